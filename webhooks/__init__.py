"""Signing outbound webhooks, shared by every service that POSTs to a customer's URL."""
