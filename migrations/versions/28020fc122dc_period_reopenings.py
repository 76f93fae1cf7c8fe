"""period reopenings: an administrator opens a submitted period's lock for one region

region_code NULL: the national activities (no region). Open while relocked_at is NULL.

Revision ID: 28020fc122dc
Revises: bcf322cec0c7
Create Date: 2026-11-27 13:23:22.680932

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '28020fc122dc'
down_revision = 'bcf322cec0c7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('period_reopening',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('region_code', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('relocked_by_id', sa.Integer(), nullable=True),
    sa.Column('relocked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['opened_by_id'], ['user.id'], name=op.f('fk_period_reopening_opened_by_id_user')),
    sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_period_reopening_region_code_region')),
    sa.ForeignKeyConstraint(['relocked_by_id'], ['user.id'], name=op.f('fk_period_reopening_relocked_by_id_user')),
    sa.ForeignKeyConstraint(['submission_id'], ['report_submission.id'], name=op.f('fk_period_reopening_submission_id_report_submission')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_period_reopening'))
    )
    with op.batch_alter_table('period_reopening', schema=None) as batch_op:
        batch_op.create_index('ix_period_reopening_period', ['period_start', 'period_end', 'region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_period_reopening_submission_id'), ['submission_id'], unique=False)



def downgrade():
    with op.batch_alter_table('period_reopening', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_period_reopening_submission_id'))
        batch_op.drop_index('ix_period_reopening_period')

    op.drop_table('period_reopening')
