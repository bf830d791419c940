"""Users, roles, tenants scoping and API tokens."""
