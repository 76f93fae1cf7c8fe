"""materials with expert-panel review: material, its versions, comments, transitions, regions and
authors; activity.material_id links a ``material`` activity to the Material it announced

Revision ID: 36b234091abf
Revises: 5d1c0a7e9b21
Create Date: 2026-11-27 10:42:46.985007

New tables only, and one nullable column on activity: nothing existing changes meaning (an
activity without a material stays counted as before in the status report).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '36b234091abf'
down_revision = '5d1c0a7e9b21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('material',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('track', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('authors_text', sa.String(length=300), nullable=True),
    sa.Column('state', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_material_created_by_id_user')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_material_updated_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material'))
    )
    with op.batch_alter_table('material', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_material_published_on'), ['published_on'], unique=False)
        batch_op.create_index('ix_material_state_title', ['state', 'title'], unique=False)

    op.create_table('material_author',
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['material_id'], ['material.id'], name=op.f('fk_material_author_material_id_material'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_material_author_user_id_user')),
    sa.PrimaryKeyConstraint('material_id', 'user_id', name=op.f('pk_material_author'))
    )
    op.create_table('material_region',
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['material_id'], ['material.id'], name=op.f('fk_material_region_material_id_material'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_material_region_region_code_region')),
    sa.PrimaryKeyConstraint('material_id', 'region_code', name=op.f('pk_material_region'))
    )
    with op.batch_alter_table('material_region', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_material_region_region_code'), ['region_code'], unique=False)

    op.create_table('material_transition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=True),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_material_transition_actor_id_user')),
    sa.ForeignKeyConstraint(['material_id'], ['material.id'], name=op.f('fk_material_transition_material_id_material'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_transition'))
    )
    with op.batch_alter_table('material_transition', schema=None) as batch_op:
        batch_op.create_index('ix_material_transition_material_at', ['material_id', 'at'], unique=False)

    op.create_table('material_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('document_file', sa.String(length=80), nullable=True),
    sa.Column('document_name', sa.String(length=200), nullable=True),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('verdict', sa.String(length=20), nullable=True),
    sa.Column('verdict_note', sa.Text(), nullable=True),
    sa.Column('verdict_by_id', sa.Integer(), nullable=True),
    sa.Column('verdict_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_material_version_created_by_id_user')),
    sa.ForeignKeyConstraint(['material_id'], ['material.id'], name=op.f('fk_material_version_material_id_material'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['verdict_by_id'], ['user.id'], name=op.f('fk_material_version_verdict_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_version')),
    sa.UniqueConstraint('material_id', 'number', name=op.f('uq_material_version_material_id_number'))
    )
    op.create_table('material_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('material_version_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_material_comment_author_id_user')),
    sa.ForeignKeyConstraint(['material_version_id'], ['material_version.id'], name=op.f('fk_material_comment_material_version_id_material_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_comment'))
    )
    with op.batch_alter_table('material_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_material_comment_material_version_id'), ['material_version_id'], unique=False)

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('material_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_activity_material_id'), ['material_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_activity_material_id_material'), 'material', ['material_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_activity_material_id_material'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_activity_material_id'))
        batch_op.drop_column('material_id')

    with op.batch_alter_table('material_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_material_comment_material_version_id'))

    op.drop_table('material_comment')
    op.drop_table('material_version')
    with op.batch_alter_table('material_transition', schema=None) as batch_op:
        batch_op.drop_index('ix_material_transition_material_at')

    op.drop_table('material_transition')
    with op.batch_alter_table('material_region', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_material_region_region_code'))

    op.drop_table('material_region')
    op.drop_table('material_author')
    with op.batch_alter_table('material', schema=None) as batch_op:
        batch_op.drop_index('ix_material_state_title')
        batch_op.drop_index(batch_op.f('ix_material_published_on'))

    op.drop_table('material')
