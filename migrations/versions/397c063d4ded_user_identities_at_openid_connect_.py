"""User identities at OpenID Connect providers: (issuer, subject) -> user (issue 18)

Revision ID: 397c063d4ded
Revises: 0806a383bb8c
Create Date: 2026-11-27 13:24:04.898354

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '397c063d4ded'
down_revision = '0806a383bb8c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('linked_at', sa.DateTime(), nullable=False),
    sa.Column('last_sign_in_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_identity_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_identity')),
    sa.UniqueConstraint('issuer', 'subject', name='uq_user_identity_issuer_subject'),
    sa.UniqueConstraint('user_id', 'issuer', name='uq_user_identity_user_issuer')
    )


def downgrade():
    op.drop_table('user_identity')
