"""Webhooks: HTTP endpoints an organization registers, and the outbox of their deliveries."""
