"""interoperability: the HSDS record an agency or program was imported from, FHIR REST-hooks

Revision ID: 0017
Revises: 0012
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types


revision = '0017'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('agencies') as batch:
        batch.add_column(sa.Column('hsds', sa.JSON(), nullable=True))
    with op.batch_alter_table('programs') as batch:
        batch.add_column(sa.Column('hsds', sa.JSON(), nullable=True))
    op.create_table('fhir_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.String(length=500), nullable=False),
    sa.Column('header', sa.String(length=500), nullable=True),
    sa.Column('program_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_fhir_subscriptions_program_id_programs')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_fhir_subscriptions_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fhir_subscriptions'))
    )
    op.create_index(op.f('ix_fhir_subscriptions_staff_id'), 'fhir_subscriptions', ['staff_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_fhir_subscriptions_staff_id'), table_name='fhir_subscriptions')
    op.drop_table('fhir_subscriptions')
    with op.batch_alter_table('programs') as batch:
        batch.drop_column('hsds')
    with op.batch_alter_table('agencies') as batch:
        batch.drop_column('hsds')
