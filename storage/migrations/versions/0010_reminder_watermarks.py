"""reminder watermarks: the last day each person was reminded, instead of a mark per referral

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reminder_watermarks',
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('through', sa.Date(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_reminder_watermarks_staff_id_staff')),
    sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_reminder_watermarks'))
    )
    # Whoever was reminded under the per-referral marks keeps the day of their last reminder,
    # so the upgrade reminds nobody twice. Those marks are no longer read.
    op.execute(
        "INSERT INTO reminder_watermarks (staff_id, through, updated_at)"
        " SELECT m.staff_id, max(date(m.created_at)), max(m.created_at)"
        " FROM schedule_marks m JOIN staff s ON s.id = m.staff_id"
        " WHERE m.job = 'reminder' GROUP BY m.staff_id"
    )
    op.execute("DELETE FROM schedule_marks WHERE job = 'reminder'")


def downgrade() -> None:
    # The per-referral marks are not rebuilt: after a downgrade, the next run reminds everyone
    # once of everything due.
    op.drop_table('reminder_watermarks')
