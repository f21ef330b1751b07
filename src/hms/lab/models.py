"""ORM classes of the lab module (private)."""
