"""Row scope value objects: which records of a scoped resource an actor may reach.

A permission string ``resource:action[:scope]`` (seed 003 4.3) grants the action on every
record (``all``), on the records of the holder's department, or on the holder's own
records. Repositories turn a :class:`RowScope` into a WHERE clause, so a record outside
the scope is never loaded: it is simply not found (404, STYLE.md 6).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression

from hms.core.permissions import Scope


@dataclass(frozen=True, slots=True)
class RowScope:
    """The scopes an actor holds on one permission, with what they are relative to.

    Attributes:
        levels: the scopes granted (a role may hold several, e.g. ``own`` and
            ``department``: their union applies). Empty: nothing is reachable.
        user_id: the actor (for ``own``).
        department: the actor's department (for ``department``); None matches nothing.
    """

    levels: frozenset[Scope]
    user_id: uuid.UUID
    department: str | None = None

    @property
    def unrestricted(self) -> bool:
        """True when every record is reachable (``all``)."""
        return Scope.ALL in self.levels

    @property
    def department_key(self) -> str | None:
        """The department a ``department`` scope compares with (trimmed; the repository
        compares case-insensitively), or None when that scope is not held or the actor
        has no department."""
        if Scope.DEPARTMENT not in self.levels or not self.department:
            return None
        return self.department.strip() or None


#: A predicate factory another module supplies for scoped queries: given the id column of
#: the outer query (e.g. ``patients.id``), a boolean clause that keeps only the rows the
#: actor may reach (typically a correlated EXISTS on the owning module's table).
RowFilter = Callable[[SQLColumnExpression[uuid.UUID]], ColumnElement[bool]]
