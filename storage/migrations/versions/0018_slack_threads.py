"""slack_threads: the message that starts each referral's thread in a DM or channel

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-06 22:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types


revision = '0018'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('slack_threads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.String(length=32), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slack_threads')),
    sa.UniqueConstraint('referral_id', 'address', name=op.f('uq_slack_threads_referral_id'))
    )


def downgrade() -> None:
    # Without the table, the next notification about a referral starts a new thread.
    op.drop_table('slack_threads')
