"""Talking to Odoo servers: the protocol client and the driver interface behind which it sits."""
