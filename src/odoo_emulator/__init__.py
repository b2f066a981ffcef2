"""A stand-in for an Odoo server (17.0, 18.0 or 19.0), speaking Odoo's own protocol.

It serves what a hosting platform and widely used Odoo clients call (shared/odoo-protocol.md):
XML-RPC (``/xmlrpc/2/*`` and the legacy ``/xmlrpc/*``) and JSON-RPC (``/jsonrpc``) with the
``common``, ``db`` and ``object`` services, the web session routes, ``/web/login``,
``/web/health`` and the ``/web/database/*`` manager routes. Every emulated database is a real
PostgreSQL database with Odoo's tables, passwords hashed as Odoo hashes them, and a filestore.

This package is independent of the platform: the platform reaches it over HTTP only.
"""

__all__ = ["__version__"]

__version__ = "1.0"
