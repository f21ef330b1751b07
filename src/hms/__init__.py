"""hms: one hospital backend (visit archive, HMS, HCMS and assistant backend seeds)."""

__version__ = "0.1.0"
