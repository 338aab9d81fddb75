"""grid indexes: oldest-first order and case-insensitive name prefixes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_first_published_at'), ['first_published_at'], unique=False)
    # PostgreSQL only (operator classes): SQLite's LIKE is case-insensitive and uses no index.
    if op.get_bind().dialect.name == 'postgresql':
        op.create_index(
            'ix_clients_name_prefix',
            'clients',
            [sa.text('lower(last_name) text_pattern_ops'), sa.text('lower(first_name) text_pattern_ops')],
            unique=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_clients_name_prefix', table_name='clients')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_first_published_at'))
