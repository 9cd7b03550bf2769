"""replace stored lone surrogates

Before the gateway refused them, a lone UTF-16 surrogate ("\\udfff" in JSON) could be stored in
an application's form (a JSON column keeps it escaped; a text column could never take one, its
insert failed): such text breaks the application's preview, its signing payload and the office's
exports. Each is replaced by U+FFFD, the character that stands for text
that could not be read. Rows without one are not written.

Revision ID: d5e8a0c3b711
Revises: b081141ad0d6
Create Date: 2026-12-04 15:00:00
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "d5e8a0c3b711"
down_revision = "b081141ad0d6"
branch_labels = None
depends_on = None

_SURROGATE = re.compile("[\ud800-\udfff]")
_BATCH = 500


def _clean(value):
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    return value


def _sweep(connection, table, key, first, columns):
    """Every row of ``table`` in batches by ``key`` (from above ``first``); only changed rows
    are written."""
    last = first
    while True:
        rows = (
            connection.execute(
                sa.select(table).where(table.c[key] > last).order_by(table.c[key]).limit(_BATCH)
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        for row in rows:
            cleaned = {name: _clean(row[name]) for name in columns}
            changed = {name: value for name, value in cleaned.items() if value != row[name]}
            if changed:
                connection.execute(sa.update(table).where(table.c[key] == row[key]).values(**changed))
        last = rows[-1][key]


def upgrade():
    application = sa.table("application", sa.column("id", sa.String), sa.column("data", sa.JSON))
    _sweep(op.get_bind(), application, "id", "", ("data",))


def downgrade():
    pass  # the replaced characters were unreadable; nothing to put back
