"""Users, login, sessions, API tokens, roles and permissions."""
