"""referring side: program capacity, consent for any program with a reference, a deletion's
reason, folded client keys for search and duplicate detection

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types
from bot.domain.identity import external_key, fold, phone_key

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capacity_status', sa.Enum('open', 'waitlist', 'no capacity', 'assessment required', name='capacitystatus', native_enum=False, length=48, create_constraint=False), nullable=True))
        batch_op.add_column(sa.Column('capacity_waitlist', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('capacity_set_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('capacity_until', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('capacity_set_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_programs_capacity_set_by_id_staff'), 'staff', ['capacity_set_by_id'], ['id'])

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('any_program', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('reference', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('recorded_at', storage.types.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_reason', sa.Text(), nullable=True))

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_key', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('last_key', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('phone_key', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('external_key', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_clients_birth_date', ['birth_date'], unique=False)
        batch_op.create_index('ix_clients_name_keys', ['last_key', 'first_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_clients_phone_key'), ['phone_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_clients_external_key'), ['external_key'], unique=False)

    # Existing clients get their folded keys, so search and duplicate checks see them at once.
    bind = op.get_bind()
    clients = sa.table(
        'clients',
        sa.column('id', sa.Integer), sa.column('first_name', sa.String),
        sa.column('last_name', sa.String), sa.column('phone', sa.String),
        sa.column('external_id', sa.String), sa.column('first_key', sa.String),
        sa.column('last_key', sa.String), sa.column('phone_key', sa.String),
        sa.column('external_key', sa.String),
    )
    rows = bind.execute(sa.select(clients.c.id, clients.c.first_name, clients.c.last_name,
                                  clients.c.phone, clients.c.external_id)).all()
    for cid, first, last, phone, external in rows:
        bind.execute(
            clients.update().where(clients.c.id == cid).values(
                first_key=fold(first)[:100], last_key=fold(last)[:100],
                phone_key=phone_key(phone), external_key=(external_key(external) or None),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clients_external_key'))
        batch_op.drop_index(batch_op.f('ix_clients_phone_key'))
        batch_op.drop_index('ix_clients_name_keys')
        batch_op.drop_index('ix_clients_birth_date')
        batch_op.drop_column('external_key')
        batch_op.drop_column('phone_key')
        batch_op.drop_column('last_key')
        batch_op.drop_column('first_key')

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_column('deleted_reason')

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('recorded_at')
        batch_op.drop_column('reference')
        batch_op.drop_column('any_program')

    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_programs_capacity_set_by_id_staff'), type_='foreignkey')
        batch_op.drop_column('capacity_set_by_id')
        batch_op.drop_column('capacity_until')
        batch_op.drop_column('capacity_set_on')
        batch_op.drop_column('capacity_waitlist')
        batch_op.drop_column('capacity_status')
