"""The real-time event stream: the caller's outbox events as Server-Sent Events."""
