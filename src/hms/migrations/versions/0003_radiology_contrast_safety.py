"""radiology contrast safety: contrast class and the physician's acknowledgements

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ('contrast_type', 'premedication_confirmed', 'renal_risk_acknowledged',
            'pregnancy_risk_acknowledged')


def upgrade() -> None:
    with op.batch_alter_table('radiology_assessments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contrast_type', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('premedication_confirmed', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('renal_risk_acknowledged', sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column('pregnancy_risk_acknowledged', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('radiology_assessments', schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
