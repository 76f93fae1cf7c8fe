"""next steps become tasks: a task table; each municipality's next step carried over as an open
task; the municipality's next-step columns dropped

Revision ID: 4b7d2c9e1a53
Revises: 8ce76fbe8c6e
Create Date: 2026-11-27 07:40:00

"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '4b7d2c9e1a53'
down_revision = '8ce76fbe8c6e'
branch_labels = None
depends_on = None

# Only the columns this migration reads or writes, as they are at this revision.
municipality = sa.table(
    'municipality',
    sa.column('code', sa.Integer), sa.column('next_step', sa.Text), sa.column('next_step_owner_id', sa.Integer),
    sa.column('next_step_due', sa.Date), sa.column('updated_at', sa.DateTime), sa.column('updated_by_id', sa.Integer),
)
task = sa.table(
    'task',
    sa.column('id', sa.Integer), sa.column('municipality_code', sa.Integer), sa.column('text', sa.Text),
    sa.column('owner_id', sa.Integer), sa.column('due_date', sa.Date), sa.column('status', sa.String),
    sa.column('created_by_id', sa.Integer), sa.column('created_at', sa.DateTime), sa.column('version', sa.Integer),
    sa.column('updated_at', sa.DateTime), sa.column('updated_by_id', sa.Integer),
)
# A next step with a due date but no text still becomes a task (the text is required there).
NO_TEXT = 'Næste skridt'


def upgrade():
    op.create_table('task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_code', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=10), server_default='open', nullable=False),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_task_created_by_id_user')),
    sa.ForeignKeyConstraint(['done_by_id'], ['user.id'], name=op.f('fk_task_done_by_id_user')),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipality.code'], name=op.f('fk_task_municipality_code_municipality')),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_task_owner_id_user')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_task_updated_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task'))
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index('ix_task_municipality_status', ['municipality_code', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_task_status_due', ['status', 'due_date'], unique=False)

    # Today's next steps become open tasks: same text, owner and due date; created by whoever saved
    # the municipality last, when they saved it (the best the old row knows).
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(municipality.c.code, municipality.c.next_step, municipality.c.next_step_owner_id,
                  municipality.c.next_step_due, municipality.c.updated_at, municipality.c.updated_by_id)
        .where(sa.or_(municipality.c.next_step.is_not(None), municipality.c.next_step_due.is_not(None)))
        .order_by(municipality.c.code)
    ).all()
    carried = [
        {'municipality_code': code, 'text': (text or '').strip() or NO_TEXT, 'owner_id': owner_id,
         'due_date': due, 'status': 'open', 'created_by_id': updated_by_id, 'created_at': updated_at or now,
         'version': 1, 'updated_at': updated_at or now, 'updated_by_id': updated_by_id}
        for code, text, owner_id, due, updated_at, updated_by_id in rows
        if (text or '').strip() or due is not None
    ]
    if carried:
        bind.execute(task.insert(), carried)

    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_municipality_next_step_due'))
        batch_op.drop_constraint(batch_op.f('fk_municipality_next_step_owner_id_user'), type_='foreignkey')
        batch_op.drop_column('next_step_due')
        batch_op.drop_column('next_step_owner_id')
        batch_op.drop_column('next_step')


def downgrade():
    with op.batch_alter_table('municipality', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_step', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('next_step_owner_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('next_step_due', sa.Date(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_municipality_next_step_owner_id_user'), 'user',
                                    ['next_step_owner_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_municipality_next_step_due'), ['next_step_due'], unique=False)

    # Back to one next step per municipality: its earliest open task (by due date, undated last).
    bind = op.get_bind()
    open_tasks = bind.execute(
        sa.select(task.c.municipality_code, task.c.text, task.c.owner_id, task.c.due_date)
        .where(task.c.status == 'open')
        .order_by(task.c.municipality_code, task.c.due_date.is_(None), task.c.due_date, task.c.id)
    ).all()
    earliest = {}
    for code, text, owner_id, due in open_tasks:
        earliest.setdefault(code, (text, owner_id, due))
    for code, (text, owner_id, due) in earliest.items():
        bind.execute(municipality.update().where(municipality.c.code == code).values(
            next_step=text, next_step_owner_id=owner_id, next_step_due=due))

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index('ix_task_status_due')
        batch_op.drop_index(batch_op.f('ix_task_owner_id'))
        batch_op.drop_index('ix_task_municipality_status')

    op.drop_table('task')
