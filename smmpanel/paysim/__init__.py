"""Fake payment gateways (Stripe, BTCPay Server) on loopback, for tests and trials:
they take the real clients' requests and send correctly signed webhooks.  Like the
provider simulator they import nothing of the panel."""
