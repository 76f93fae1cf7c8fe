"""Anchoring entries: a partial index for the latest entry of a region's series, and one on the
date for the map's earliest date (issue 19)

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
    op.create_index(op.f('ix_anchoring_entry_effective_date'), 'anchoring_entry', ['effective_date'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_anchoring_entry_effective_date'), table_name='anchoring_entry')
    op.drop_index('ix_anchoring_entry_region_series', table_name='anchoring_entry')
