"""roles and permissions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

Placeholder reserved for helper A2: roles as data, permission scopes, user departments; filled in by that work.
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
