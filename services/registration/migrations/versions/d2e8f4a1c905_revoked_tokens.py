"""tokens ended by logout

Revision ID: d2e8f4a1c905
Revises: b7c41d0e9a12
Create Date: 2026-12-04 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d2e8f4a1c905"
down_revision = "b7c41d0e9a12"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "revoked_token",
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_id"),
    )
    op.create_index("ix_revoked_token_expires_at", "revoked_token", ["expires_at"], unique=False)


def downgrade():
    op.drop_index("ix_revoked_token_expires_at", table_name="revoked_token")
    op.drop_table("revoked_token")
