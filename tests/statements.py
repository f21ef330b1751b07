"""Capturing the SQL a test's engine sends (for tests that count round trips)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


@contextmanager
def captured_statements(session: Any, containing: str = "") -> Iterator[list[str]]:
    """The SQL statements ``session``'s engine sends while the block runs, in order: only
    those containing ``containing`` (all by default). The list fills as they are sent."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if containing in statement:
            statements.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)
