"""access requests, and when a staff member's access was removed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table('access_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('coordinator', 'gatekeeper', 'provider', 'security_officer', 'admin', name='role', native_enum=False, length=48), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'denied', name='accessstatus', native_enum=False, length=48), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff.id'], name=op.f('fk_access_requests_decided_by_id_staff')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_access_requests_program_id_programs')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_access_requests_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_requests'))
    )
    with op.batch_alter_table('access_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_requests_program_id'), ['program_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_requests_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_requests_status'), ['status'], unique=False)
        # At most one pending request per person, role and program.
        batch_op.create_index('uq_access_requests_pending', ['staff_id', 'role', 'program_id'], unique=True, sqlite_where=PENDING, postgresql_where=PENDING)

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_removed_at', storage.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('access_removed_at')

    with op.batch_alter_table('access_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_access_requests_pending')
        batch_op.drop_index(batch_op.f('ix_access_requests_status'))
        batch_op.drop_index(batch_op.f('ix_access_requests_staff_id'))
        batch_op.drop_index(batch_op.f('ix_access_requests_program_id'))

    op.drop_table('access_requests')
