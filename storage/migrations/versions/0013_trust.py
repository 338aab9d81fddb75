"""trust: network settings kept in the directory, the idle rule's warnings, reads by client

Revision ID: 0013
Revises: 0017
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types


revision = '0013'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('network_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_network_settings'))
    )
    with op.batch_alter_table('staff') as batch:
        batch.add_column(
            sa.Column('idle_warned_at', storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index('ix_audit_events_client_at', 'audit_events', ['client_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_audit_events_client_at', table_name='audit_events')
    with op.batch_alter_table('staff') as batch:
        batch.drop_column('idle_warned_at')
    op.drop_table('network_settings')
