"""instruments as data: instrument, instrument_version, instrument_item, instrument_band and
instrument_item_mapping; the IPS-25 fidelity scale becomes version 1 of instrument "IPS-25" (from
crm/data/fidelity_scale.csv and fidelity_bands.csv, as bundled when this migration was written)
and every existing fidelity review belongs to it, scores and totals unchanged

Revision ID: 7a3e5c1d9f42
Revises: ad37e00dff10
Create Date: 2026-11-27 11:14:32.456631

Downgrade drops the column and the tables (the reviews keep their ratings and totals).
"""
import csv
from datetime import date, datetime, timezone
from pathlib import Path

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a3e5c1d9f42'
down_revision = 'ad37e00dff10'
branch_labels = None
depends_on = None

DATA_DIR = Path(__file__).resolve().parents[2] / "crm" / "data"
# Stable codes for the published bands, keyed by their English names in fidelity_bands.csv.
BAND_CODES = {"Exemplary fidelity": "exemplary", "Good fidelity": "good", "Fair fidelity": "fair",
              "Not supported employment": "not_ips"}

# Only the columns this migration writes, as they are at this revision.
instrument = sa.table('instrument', sa.column('id', sa.Integer), sa.column('code', sa.String),
                      sa.column('name_da', sa.String), sa.column('name_en', sa.String))
instrument_version = sa.table(
    'instrument_version', sa.column('id', sa.Integer), sa.column('instrument_id', sa.Integer),
    sa.column('number', sa.Integer), sa.column('label', sa.String), sa.column('state', sa.String),
    sa.column('created_on', sa.Date), sa.column('activated_on', sa.Date), sa.column('created_at', sa.DateTime),
    sa.column('version', sa.Integer))
instrument_item = sa.table(
    'instrument_item', sa.column('instrument_version_id', sa.Integer), sa.column('key', sa.String),
    sa.column('section', sa.String), sa.column('number', sa.Integer), sa.column('position', sa.Integer),
    sa.column('label_da', sa.String), sa.column('label_en', sa.String), sa.column('min_score', sa.Integer),
    sa.column('max_score', sa.Integer), sa.column('weight', sa.Integer))
instrument_band = sa.table(
    'instrument_band', sa.column('instrument_version_id', sa.Integer), sa.column('code', sa.String),
    sa.column('lower_total', sa.Integer), sa.column('upper_total', sa.Integer), sa.column('label_da', sa.String),
    sa.column('label_en', sa.String))
fidelity_review = sa.table('fidelity_review', sa.column('instrument_version_id', sa.Integer))


def _rows(name):
    with open(DATA_DIR / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _insert_ips25(conn) -> int:
    """IPS-25 version 1 (active) with its 25 items and 4 bands; returns the version's id."""
    conn.execute(instrument.insert().values(code="IPS-25", name_da="IPS-fidelitetsskala (25 punkter)",
                                            name_en="IPS fidelity scale (25 items)"))
    instrument_id = conn.execute(sa.select(instrument.c.id).where(instrument.c.code == "IPS-25")).scalar_one()
    today = date.today()
    conn.execute(instrument_version.insert().values(
        instrument_id=instrument_id, number=1, label="IPS-25", state="active", created_on=today,
        activated_on=today, created_at=datetime.now(timezone.utc).replace(tzinfo=None), version=1))
    version_id = conn.execute(sa.select(instrument_version.c.id).where(
        instrument_version.c.instrument_id == instrument_id, instrument_version.c.number == 1)).scalar_one()
    conn.execute(instrument_item.insert(), [
        {"instrument_version_id": version_id, "key": f"{r['section']}-{int(r['number'])}", "section": r["section"],
         "number": int(r["number"]), "position": position, "label_da": r["item_da"], "label_en": r["item_en"],
         "min_score": 1, "max_score": 5, "weight": 1}
        for position, r in enumerate(_rows("fidelity_scale.csv"), start=1)])
    conn.execute(instrument_band.insert(), [
        {"instrument_version_id": version_id, "code": BAND_CODES[r["band_en"]], "lower_total": int(r["min_total"]),
         "upper_total": int(r["max_total"]), "label_da": r["band_da"], "label_en": r["band_en"]}
        for r in _rows("fidelity_bands.csv")])
    return version_id


def upgrade():
    op.create_table('instrument',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_da', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument')),
    sa.UniqueConstraint('code', name=op.f('uq_instrument_code'))
    )
    op.create_table('instrument_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('activated_on', sa.Date(), nullable=True),
    sa.Column('retired_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['instrument_id'], ['instrument.id'], name=op.f('fk_instrument_version_instrument_id_instrument')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_instrument_version_updated_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_version')),
    sa.UniqueConstraint('instrument_id', 'number', name=op.f('uq_instrument_version_instrument_id_number'))
    )
    with op.batch_alter_table('instrument_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instrument_version_instrument_id'), ['instrument_id'], unique=False)

    op.create_table('instrument_band',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_version_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('lower_total', sa.Integer(), nullable=False),
    sa.Column('upper_total', sa.Integer(), nullable=False),
    sa.Column('label_da', sa.String(length=200), nullable=False),
    sa.Column('label_en', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['instrument_version_id'], ['instrument_version.id'], name=op.f('fk_instrument_band_instrument_version_id_instrument_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_band'))
    )
    with op.batch_alter_table('instrument_band', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instrument_band_instrument_version_id'), ['instrument_version_id'], unique=False)

    op.create_table('instrument_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_version_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=20), nullable=False),
    sa.Column('section', sa.String(length=100), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label_da', sa.String(length=500), nullable=False),
    sa.Column('label_en', sa.String(length=500), nullable=False),
    sa.Column('min_score', sa.Integer(), nullable=False),
    sa.Column('max_score', sa.Integer(), nullable=False),
    sa.Column('allowed_values', sa.String(length=100), nullable=True),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.CheckConstraint('min_score <= max_score', name=op.f('ck_instrument_item_scale')),
    sa.ForeignKeyConstraint(['instrument_version_id'], ['instrument_version.id'], name=op.f('fk_instrument_item_instrument_version_id_instrument_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_item')),
    sa.UniqueConstraint('instrument_version_id', 'key', name=op.f('uq_instrument_item_instrument_version_id_key'))
    )
    with op.batch_alter_table('instrument_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instrument_item_instrument_version_id'), ['instrument_version_id'], unique=False)

    op.create_table('instrument_item_mapping',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_item_id', sa.Integer(), nullable=False),
    sa.Column('to_item_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['from_item_id'], ['instrument_item.id'], name=op.f('fk_instrument_item_mapping_from_item_id_instrument_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_item_id'], ['instrument_item.id'], name=op.f('fk_instrument_item_mapping_to_item_id_instrument_item'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_item_mapping')),
    sa.UniqueConstraint('from_item_id', 'to_item_id', name=op.f('uq_instrument_item_mapping_from_item_id_to_item_id'))
    )
    with op.batch_alter_table('instrument_item_mapping', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instrument_item_mapping_from_item_id'), ['from_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_instrument_item_mapping_to_item_id'), ['to_item_id'], unique=False)

    with op.batch_alter_table('fidelity_review', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instrument_version_id', sa.Integer(), nullable=True))

    version_id = _insert_ips25(op.get_bind())
    op.execute(fidelity_review.update().values(instrument_version_id=version_id))

    with op.batch_alter_table('fidelity_review', schema=None) as batch_op:
        batch_op.alter_column('instrument_version_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_fidelity_review_instrument_version_id'), ['instrument_version_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_fidelity_review_instrument_version_id_instrument_version'), 'instrument_version', ['instrument_version_id'], ['id'])



def downgrade():
    with op.batch_alter_table('fidelity_review', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_fidelity_review_instrument_version_id_instrument_version'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_fidelity_review_instrument_version_id'))
        batch_op.drop_column('instrument_version_id')

    with op.batch_alter_table('instrument_item_mapping', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instrument_item_mapping_to_item_id'))
        batch_op.drop_index(batch_op.f('ix_instrument_item_mapping_from_item_id'))

    op.drop_table('instrument_item_mapping')
    with op.batch_alter_table('instrument_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instrument_item_instrument_version_id'))

    op.drop_table('instrument_item')
    with op.batch_alter_table('instrument_band', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instrument_band_instrument_version_id'))

    op.drop_table('instrument_band')
    with op.batch_alter_table('instrument_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instrument_version_instrument_id'))

    op.drop_table('instrument_version')
    op.drop_table('instrument')
