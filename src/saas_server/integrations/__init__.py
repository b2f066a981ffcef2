"""Inbound webhooks: integration providers, verified and idempotent intake, handlers by kind,
health; the Odoo webhook."""
