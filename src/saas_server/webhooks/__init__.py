"""Outbound webhooks: endpoints, Standard Webhooks signing, delivery from the outbox with
retries, replay."""
