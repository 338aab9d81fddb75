"""outbox payloads compressed with lz4 on PostgreSQL (a large reminder or escalation is written
several times faster than with the default pglz)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 10:30:00.000000
"""

from __future__ import annotations

from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


# As storage.models.OUTBOX_PAYLOAD_LZ4: an optimisation, so a server without lz4 keeps pglz.
LZ4 = """
DO $$ BEGIN
    ALTER TABLE outbox ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN NULL;
END $$
"""


def upgrade() -> None:
    # Payloads stored from now on; those already stored keep their compression.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LZ4)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbox ALTER COLUMN payload SET COMPRESSION default")
