"""Staff identity: users, roles, login sessions, JWT access and rotating refresh tokens."""
