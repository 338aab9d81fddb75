"""outbox claims: the token of the dispatcher holding a row (fences its final write), and the
host a row waits on after the far side could not be reached; Slack commands handed to the
answering processes kept in a table until answered

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-06 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime


revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("waiting_on", sa.String(length=64), nullable=True))
    op.create_index("ix_outbox_waiting_on", "outbox", ["waiting_on"])
    op.create_table(
        "slack_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("command", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("response_url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("leased_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_commands")),
    )
    op.create_index("ix_slack_commands_open", "slack_commands", ["status", "created_at"])
    # Rows leased under the old two-minute lease keep it; nothing else to carry over.


def downgrade() -> None:
    op.drop_index("ix_slack_commands_open", table_name="slack_commands")
    op.drop_table("slack_commands")
    op.drop_index("ix_outbox_waiting_on", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("waiting_on")
        batch.drop_column("claimed_by")
