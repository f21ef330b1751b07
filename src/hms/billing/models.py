"""ORM classes of the billing module (private)."""
