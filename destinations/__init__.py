"""Outbound webhooks ("destinations"): matching events POSTed as signed JSON batches to customers' URLs."""
