"""ORM classes of the organization module (private)."""
