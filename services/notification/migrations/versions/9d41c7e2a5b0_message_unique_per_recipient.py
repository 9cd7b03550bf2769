"""one message per event, kind, channel and recipient

One event may now reach several recipients of the same kind and channel (application_submitted:
every active officer of the issuing office), so the idempotency key includes the recipient.

Revision ID: 9d41c7e2a5b0
Revises: 3b2bac89395e
Create Date: 2026-12-02 10:00:00.000000
"""

from alembic import op

revision = "9d41c7e2a5b0"
down_revision = "3b2bac89395e"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_constraint("uq_message_event_kind_channel", type_="unique")
        batch_op.create_unique_constraint(
            "uq_message_event_kind_channel_recipient", ["event_id", "kind", "channel", "recipient"]
        )


def downgrade():
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_constraint("uq_message_event_kind_channel_recipient", type_="unique")
        batch_op.create_unique_constraint("uq_message_event_kind_channel", ["event_id", "kind", "channel"])
