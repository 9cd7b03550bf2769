"""password reset links, credentials versions, login successes

Revision ID: b7c41d0e9a12
Revises: 660e9ff288e8
Create Date: 2026-12-04 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b7c41d0e9a12"
down_revision = "660e9ff288e8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credentials_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("credentials_changed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("failures_alerted_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_account_credentials_changed_at"), ["credentials_changed_at"], unique=False
        )
    op.create_table(
        "login_success",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("username", "address"),
    )
    op.create_table(
        "password_reset_request",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    with op.batch_alter_table("password_reset_request", schema=None) as batch_op:
        for column in ("username", "address", "requested_at"):
            batch_op.create_index(batch_op.f(f"ix_password_reset_request_{column}"), [column], unique=False)


def downgrade():
    op.drop_table("password_reset_request")
    op.drop_table("login_success")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_credentials_changed_at"))
        batch_op.drop_column("failures_alerted_at")
        batch_op.drop_column("credentials_changed_at")
        batch_op.drop_column("credentials_version")
