"""Partial index for the latest entry of a region's anchoring series (issue 19)

Revision ID: 5e1f0a7c3b92
Revises: 397c063d4ded
Create Date: 2026-11-27 17:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e1f0a7c3b92'
down_revision = '397c063d4ded'
branch_labels = None
depends_on = None

REGION_SERIES = sa.text("municipality_code IS NULL")


def upgrade():
    op.create_index('ix_anchoring_entry_region_series', 'anchoring_entry',
                    ['anchoring_item_id', 'region_code', 'effective_date', 'id'], unique=False,
                    postgresql_where=REGION_SERIES, sqlite_where=REGION_SERIES)


def downgrade():
    op.drop_index('ix_anchoring_entry_region_series', table_name='anchoring_entry')
