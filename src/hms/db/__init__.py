"""Database plumbing: declarative base, engine, per-request session."""

from hms.db.base import Base, TimestampMixin, utcnow
from hms.db.session import Database, get_session, unit_of_work

__all__ = ["Base", "Database", "TimestampMixin", "get_session", "unit_of_work", "utcnow"]
