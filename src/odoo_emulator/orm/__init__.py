"""A small ORM with Odoo's RPC semantics, over real PostgreSQL tables."""
