"""Reference data: the 5 regions and 98 municipalities, loaded from the copies in crm/data/, the
anchoring items and the cost lines of the call (added when missing, then the admins' to edit), and
the psychiatric centres, which the admins keep."""
import csv
from pathlib import Path
from typing import Optional

from sqlalchemy import select

from crm.extensions import db
from crm.i18n import gettext as _
from crm.models import CostLine, Municipality, PsychiatricCentre, Region
from crm.services.errors import FieldError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def read_csv(name: str) -> list[dict[str, str]]:
    """Rows of one of the bundled reference CSV files."""
    with open(DATA_DIR / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def seed_reference_data() -> dict[str, int]:
    """Insert or correct regions and municipalities; running it again changes nothing.

    Returns how many rows were added or changed, per kind.
    """
    changed = {"regions": 0, "municipalities": 0, "anchoring_items": 0, "cost_lines": 0}
    for row in read_csv("regions.csv"):
        changed["regions"] += _upsert(Region, int(row["code"]), name=row["name"])
    db.session.flush()
    for row in read_csv("municipalities.csv"):
        changed["municipalities"] += _upsert(
            Municipality, int(row["code"]), name=row["name"], region_code=int(row["region_code"])
        )
    changed["anchoring_items"] = seed_anchoring_items()
    changed["cost_lines"] = seed_cost_lines()
    db.session.commit()
    return changed


def seed_anchoring_items() -> int:
    """Add the anchoring items of crm/data/anchoring_items.csv that are missing (see
    ``crm.services.anchoring.seed_items``); the caller commits. Returns how many were added."""
    from crm.services.anchoring import seed_items

    return seed_items(read_csv("anchoring_items.csv"))


def seed_cost_lines() -> int:
    """Add the cost lines of crm/data/cost_lines.csv whose code is not there yet; a line already
    present is the admins' to edit and is left as it is. The caller commits; returns how many
    were added."""
    existing = set(db.session.scalars(select(CostLine.code)))
    added = 0
    for position, row in enumerate(read_csv("cost_lines.csv"), start=1):
        if row["code"] in existing:
            continue
        db.session.add(CostLine(code=row["code"], label_da=row["name_da"], label_en=row["name_en"],
                                guidance=row["note"] or None, position=position * 10))
        added += 1
    return added


def _upsert(model, code: int, **values) -> int:
    """Create the row, or bring its values up to date; 1 if anything changed."""
    obj = db.session.get(model, code)
    if obj is None:
        db.session.add(model(code=code, **values))
        return 1
    dirty = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            dirty = True
    return int(dirty)


def municipality_name_lookup() -> dict[str, int]:
    """Lower-cased names and known variant spellings → municipality code (for importers)."""
    lookup = {row["name"].lower(): int(row["code"]) for row in read_csv("municipalities.csv")}
    for row in read_csv("municipality_name_variants.csv"):
        lookup[row["variant"].lower()] = int(row["code"])
    return lookup


def save_centre(centre: Optional[PsychiatricCentre], name: str, region_code: int) -> PsychiatricCentre:
    """Add (``centre`` None) or rename a psychiatric centre; commits. ``FieldError`` on ``name``
    when the region already has a centre of that name."""
    name = name.strip()
    duplicate = db.session.scalar(
        select(PsychiatricCentre).where(PsychiatricCentre.region_code == region_code, PsychiatricCentre.name == name)
    )
    if duplicate is not None and duplicate is not centre:
        raise FieldError(_("Der findes allerede en enhed med dette navn i regionen."), "name")
    centre = centre or PsychiatricCentre()
    centre.name = name
    centre.region_code = region_code
    db.session.add(centre)
    db.session.commit()
    return centre
