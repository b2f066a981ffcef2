"""Tenants, memberships, invitations (issue 3)."""
