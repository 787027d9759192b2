"""Outbound integrations: webhooks, e-mail, the shared HTTP client and circuit breakers."""
