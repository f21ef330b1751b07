"""patient name search index

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

Typo-tolerant name search in relevance order (issue 5; see hms.patients.name_search):
``patient_name_words``, the dictionary of words used in patients' folded names, filled from
the existing patients. On PostgreSQL also: the pg_trgm extension and a trigram index on the
dictionary (close spellings of a query word), a GIN index on the words of each name
(``string_to_array(name_search, ' ')``) and ``ix_patients_name_search`` rebuilt on
``name_search COLLATE "C"`` so that a "starts with" match and the byte-order page walk use
the same btree.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute('CREATE TABLE patient_name_words (word VARCHAR(255) COLLATE "C" NOT NULL, '
                   "CONSTRAINT pk_patient_name_words PRIMARY KEY (word))")
        op.execute("CREATE INDEX ix_patient_name_words_trgm ON patient_name_words "
                   "USING gin (word gin_trgm_ops)")
        op.execute("INSERT INTO patient_name_words (word) SELECT DISTINCT w FROM patients, "
                   "unnest(string_to_array(name_search, ' ')) AS w WHERE w <> '' "
                   "ON CONFLICT DO NOTHING")
        op.execute("DROP INDEX IF EXISTS ix_patients_name_search")
        op.execute('CREATE INDEX ix_patients_name_search ON patients '
                   '((name_search COLLATE "C"))')
        op.execute("CREATE INDEX ix_patients_name_words ON patients "
                   "USING gin (string_to_array(name_search, ' '))")
        return
    op.create_table(
        "patient_name_words",
        sa.Column("word", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_patient_name_words")),
    )
    words = {w for (name,) in bind.execute(sa.text("SELECT name_search FROM patients"))
             for w in (name or "").split()}
    if words:
        bind.execute(sa.text("INSERT OR IGNORE INTO patient_name_words (word) VALUES (:w)"),
                     [{"w": w} for w in sorted(words)])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_patients_name_words")
        op.execute("DROP INDEX IF EXISTS ix_patients_name_search")
        op.execute("CREATE INDEX ix_patients_name_search ON patients (name_search)")
        op.execute("DROP TABLE patient_name_words")
        # pg_trgm stays: other objects of the database may have come to use it.
        return
    op.drop_table("patient_name_words")
