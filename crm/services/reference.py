"""Reference data: the 5 regions and 98 municipalities, loaded from the copies in crm/data/."""
import csv
from pathlib import Path

from crm.extensions import db
from crm.models import Municipality, Region

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def read_csv(name: str) -> list[dict[str, str]]:
    """Rows of one of the bundled reference CSV files."""
    with open(DATA_DIR / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def seed_reference_data() -> dict[str, int]:
    """Insert or correct regions and municipalities; running it again changes nothing.

    Returns how many rows were added or changed, per kind.
    """
    changed = {"regions": 0, "municipalities": 0}
    for row in read_csv("regions.csv"):
        changed["regions"] += _upsert(Region, int(row["code"]), name=row["name"])
    db.session.flush()
    for row in read_csv("municipalities.csv"):
        changed["municipalities"] += _upsert(
            Municipality, int(row["code"]), name=row["name"], region_code=int(row["region_code"])
        )
    db.session.commit()
    return changed


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
