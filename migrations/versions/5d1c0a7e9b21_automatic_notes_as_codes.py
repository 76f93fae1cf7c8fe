"""automatic notes as codes: note_kind and note_params on stage_change and activity

Revision ID: 5d1c0a7e9b21
Revises: 4b7d2c9e1a53
Create Date: 2026-11-27 07:50:00

Notes the system wrote as text are turned into codes where they can be recognised:
- a stage change whose note is "Samarbejdsplan underskrevet: <title>" (or the English
  "Cooperation plan signed: <title>", written when an English-speaking user saved the plan) becomes
  note_kind "plan_signed" with {"title": <title>} and no text note;
- an activity whose note starts with "Importeret fra kalender" (the calendar import's mark) becomes
  note_kind "calendar_import", keeping the event's description (after the blank line) as its note.
Downgrade writes them back as the Danish text.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d1c0a7e9b21'
down_revision = '4b7d2c9e1a53'
branch_labels = None
depends_on = None

PLAN_SIGNED_PREFIXES = ("Samarbejdsplan underskrevet: ", "Cooperation plan signed: ")
CALENDAR_MARK = "Importeret fra kalender"


def _tables():
    meta = sa.MetaData()
    stage = sa.Table("stage_change", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.Text),
                     sa.Column("note_kind", sa.String(40)), sa.Column("note_params", sa.JSON))
    activity = sa.Table("activity", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.Text),
                        sa.Column("note_kind", sa.String(40)), sa.Column("note_params", sa.JSON))
    return stage, activity


def upgrade():
    for table in ('stage_change', 'activity'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('note_kind', sa.String(length=40), nullable=True))
            batch_op.add_column(sa.Column('note_params', sa.JSON(), nullable=True))

    connection = op.get_bind()
    stage, activity = _tables()
    for prefix in PLAN_SIGNED_PREFIXES:
        rows = connection.execute(sa.select(stage.c.id, stage.c.note).where(stage.c.note.like(prefix + "%"))).all()
        for row_id, note in rows:
            connection.execute(stage.update().where(stage.c.id == row_id).values(
                note=None, note_kind="plan_signed", note_params={"title": note[len(prefix):].strip()}))
    rows = connection.execute(
        sa.select(activity.c.id, activity.c.note).where(activity.c.note.like(CALENDAR_MARK + "%"))).all()
    for row_id, note in rows:
        rest = note[len(CALENDAR_MARK):]
        if rest and not rest.startswith("\n"):
            continue  # a person's note that merely begins with the same words
        connection.execute(activity.update().where(activity.c.id == row_id).values(
            note=rest.strip() or None, note_kind="calendar_import"))


def downgrade():
    connection = op.get_bind()
    stage, activity = _tables()
    for row_id, note, params in connection.execute(
            sa.select(stage.c.id, stage.c.note, stage.c.note_params).where(stage.c.note_kind == "plan_signed")).all():
        text = PLAN_SIGNED_PREFIXES[0] + str((params or {}).get("title", ""))
        connection.execute(stage.update().where(stage.c.id == row_id).values(
            note=text + ("\n\n" + note if note else "")))
    for row_id, note in connection.execute(
            sa.select(activity.c.id, activity.c.note).where(activity.c.note_kind == "calendar_import")).all():
        connection.execute(activity.update().where(activity.c.id == row_id).values(
            note=CALENDAR_MARK + ("\n\n" + note if note else "")))

    for table in ('activity', 'stage_change'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('note_params')
            batch_op.drop_column('note_kind')
