"""Moving a tenant between Odoo hosts of one version, as a flow of checkpointed steps."""
