"""ORM classes of the scheduling module (private)."""
