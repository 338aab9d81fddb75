"""grid rows: the grid's sort and filter keys copied onto recipients, and the referral's needs
one row each, so that every grid order is one index walk

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

STATES = ['draft', 'open', 'pending_placement', 'closed', 'deleted']
URGENCIES = ['routine', 'urgent', 'emergent']
INDEXES = {
    'ix_recipients_grid_published_at': ['grid_published_at', 'id'],
    'ix_recipients_grid_number': ['grid_number', 'id'],
    'ix_recipients_grid_urgency': ['grid_urgency', 'id'],
    'ix_recipients_grid_state': ['grid_state', 'id'],
    'ix_recipients_grid_program': ['grid_program', 'id'],
    'ix_recipients_grid_last_name': ['grid_last_name', 'id'],
    'ix_recipients_response': ['response', 'id'],
    'ix_recipients_grid_coordinator_id': ['grid_coordinator_id'],
}
# The same orders again over the open grid only (open and pending placement).
OPEN_INDEXES = {
    'ix_recipients_open_published_at': ['grid_published_at', 'id'],
    'ix_recipients_open_number': ['grid_number', 'id'],
    'ix_recipients_open_urgency': ['grid_urgency', 'id'],
    'ix_recipients_open_state': ['grid_state', 'id'],
    'ix_recipients_open_program': ['grid_program', 'id'],
    'ix_recipients_open_last_name': ['grid_last_name', 'id'],
    'ix_recipients_open_response': ['response', 'id'],
    'ix_recipients_open_referral_id': ['referral_id'],
    'ix_recipients_open_program_id': ['program_id'],
}
OPEN = "grid_state IN ('open', 'pending_placement')"

BACKFILL_RECIPIENTS = """
UPDATE recipients SET
    grid_state = (SELECT r.state FROM referrals r WHERE r.id = recipients.referral_id),
    grid_published_at = (SELECT r.first_published_at FROM referrals r
                         WHERE r.id = recipients.referral_id),
    grid_number = (SELECT r.number FROM referrals r WHERE r.id = recipients.referral_id),
    grid_urgency = (SELECT r.urgency FROM referrals r WHERE r.id = recipients.referral_id),
    grid_program = (SELECT p.name FROM programs p WHERE p.id = recipients.program_id),
    grid_last_name = (SELECT c.last_name FROM referrals r JOIN clients c ON c.id = r.client_id
                      WHERE r.id = recipients.referral_id),
    grid_statewide = (SELECT r.statewide FROM referrals r WHERE r.id = recipients.referral_id),
    grid_coordinator_id = (SELECT r.primary_coordinator_id FROM referrals r
                           WHERE r.id = recipients.referral_id)
"""
BACKFILL_NEEDS = {
    'postgresql': """
        INSERT INTO referral_needs (referral_id, code)
        SELECT DISTINCT r.id, n.code FROM referrals r
        CROSS JOIN LATERAL json_array_elements_text(r.needs) AS n(code)
    """,
    'sqlite': """
        INSERT INTO referral_needs (referral_id, code)
        SELECT DISTINCT r.id, n.value FROM referrals r, json_each(r.needs) AS n
    """,
}


def upgrade() -> None:
    op.create_table('referral_needs',
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_referral_needs_referral_id_referrals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('referral_id', 'code', name=op.f('pk_referral_needs'))
    )
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grid_state', sa.Enum(*STATES, name='referralstate', native_enum=False, create_constraint=False, length=48), nullable=True))
        batch_op.add_column(sa.Column('grid_published_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('grid_number', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('grid_urgency', sa.Enum(*URGENCIES, name='urgency', native_enum=False, create_constraint=False, length=48), nullable=True))
        batch_op.add_column(sa.Column('grid_program', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('grid_last_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('grid_statewide', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('grid_coordinator_id', sa.Integer(), nullable=True))
    # Filled before the indexes are built: one pass over the table, not one per index.
    op.execute(BACKFILL_RECIPIENTS)
    op.execute(BACKFILL_NEEDS[op.get_bind().dialect.name])
    op.create_index('ix_referral_needs_code', 'referral_needs', ['code', 'referral_id'], unique=False)
    op.create_index('ix_referral_counties_county_id', 'referral_counties', ['county_id', 'referral_id'], unique=False)
    for name, columns in INDEXES.items():
        op.create_index(name, 'recipients', columns, unique=False)
    for name, columns in OPEN_INDEXES.items():
        op.create_index(
            name, 'recipients', columns, unique=False,
            postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
        )
    # PostgreSQL only (operator classes), like ix_clients_name_prefix in 0008.
    if op.get_bind().dialect.name == 'postgresql':
        op.create_index(
            'ix_recipients_grid_last_name_prefix',
            'recipients',
            [sa.text('lower(grid_last_name) text_pattern_ops')],
            unique=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_recipients_grid_last_name_prefix', table_name='recipients')
    for name in [*OPEN_INDEXES, *INDEXES]:
        op.drop_index(name, table_name='recipients')
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        for column in ('grid_coordinator_id', 'grid_statewide', 'grid_last_name', 'grid_program', 'grid_urgency', 'grid_number',
                       'grid_published_at', 'grid_state'):
            batch_op.drop_column(column)
    op.drop_index('ix_referral_counties_county_id', table_name='referral_counties')
    op.drop_index('ix_referral_needs_code', table_name='referral_needs')
    op.drop_table('referral_needs')
