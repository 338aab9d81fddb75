"""escalations: one row per escalated referral-program pair, instead of a mark per person

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('escalated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations')),
    sa.UniqueConstraint('referral_id', 'program_id', name=op.f('uq_escalations_referral_id'))
    )
    # A pair escalated under the per-person marks stays escalated: the upgrade repeats nothing.
    op.execute(
        "INSERT INTO escalations (referral_id, program_id, escalated_at)"
        " SELECT referral_id, program_id, min(created_at) FROM schedule_marks"
        " WHERE job = 'overdue' GROUP BY referral_id, program_id"
        " ORDER BY min(created_at), referral_id, program_id"
    )
    op.drop_table('schedule_marks')


def downgrade() -> None:
    op.create_table('schedule_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=32), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_marks')),
    sa.UniqueConstraint('job', 'staff_id', 'referral_id', 'program_id', 'period', name=op.f('uq_schedule_marks_job'))
    )
    # The escalations are not turned back into per-person marks: after a downgrade, pairs
    # still overdue are escalated once more.
    op.drop_table('escalations')
