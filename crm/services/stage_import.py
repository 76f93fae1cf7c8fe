"""Import of dated stage changes (``municipality,stage,date,note``) on the generic import framework.

A row identical to a stage change already recorded (same municipality, date and stage) is
"already present"; the same municipality and date with another stage is an error. Rows are
written through ``crm.services.pipeline.record_stage_change`` so the pipeline's rules apply.
"""
from dataclasses import dataclass
from datetime import date
from typing import Hashable, Optional, Sequence

from crm.formatting import format_date
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from sqlalchemy import select, tuple_

from crm.extensions import db
from crm.models import STAGE_CODES, STAGES, StageChange
from crm.services.importing import FieldParser, Importer, MunicipalityLookup, RowError, chunked, labels_in_every_language
from crm.services.pipeline import record_stage_change


@dataclass(frozen=True)
class StageRow:
    """One parsed row of a stage-change file."""

    municipality_code: int
    stage: str
    effective_date: date
    note: Optional[str]


def _stage_lookup() -> dict[str, str]:
    """Stage codes and their labels in every language (lower-cased) → code, so any may be written."""
    lookup = {code: code for code in STAGE_CODES}
    lookup.update(labels_in_every_language(STAGES))
    return lookup


class StageImporter(Importer):
    """Stage changes per municipality; the user must be allowed to write the municipality's region."""

    label = _l("faseændringer")
    columns = ("municipality", "stage", "date", "note")
    column_aliases = {"kommune": "municipality", "fase": "stage", "dato": "date", "bemærkning": "note"}

    def __init__(self, actor=None):
        super().__init__(actor)
        self.municipalities = MunicipalityLookup()
        self.stages = _stage_lookup()

    def parse_row(self, values: dict[str, str], line_no: int) -> tuple[Optional[StageRow], list[RowError]]:
        """Check one row; the municipality's region must be writable by the user."""
        errors: list[RowError] = []
        p = FieldParser(line_no, errors)
        code = p.municipality(values, "municipality", self.municipalities)
        stage_text = p.text(values, "stage", required=True, max_length=60)
        stage = self.stages.get(stage_text.lower()) if stage_text else None
        if stage_text and stage is None:
            p.error("stage", _("Ukendt fase »%(value)s«. Brug en af: %(codes)s.",
                               value=stage_text, codes=", ".join(STAGE_CODES)))
        effective_date = p.date(values, "date", required=True)
        note = p.text(values, "note", max_length=5000)
        if code is not None:
            self.check_region(p, "municipality", self.municipalities.region_of[code])
        if errors:
            return None, errors
        return StageRow(code, stage, effective_date, note), errors

    def row_key(self, parsed: StageRow) -> Hashable:
        return (parsed.municipality_code, parsed.effective_date, parsed.stage)

    def slot_key(self, parsed: StageRow) -> Hashable:
        """One stage change per municipality and date (the pipeline's rule)."""
        return (parsed.municipality_code, parsed.effective_date)

    def existing_slots(self, slot_keys: Sequence[Hashable]) -> dict[Hashable, Hashable]:
        """Recorded stage changes for these (municipality, date) pairs, in chunked queries."""
        found: dict[Hashable, Hashable] = {}
        for chunk in chunked(list(slot_keys)):
            query = select(StageChange.municipality_code, StageChange.effective_date, StageChange.stage).where(
                tuple_(StageChange.municipality_code, StageChange.effective_date).in_(chunk)
            )
            for code, when, stage in db.session.execute(query):
                found[(code, when)] = (code, when, stage)
        return found

    def conflict_message(self, parsed: StageRow, existing_row_key: Hashable) -> tuple[Optional[str], str]:
        """Another stage is already recorded for this municipality on this date."""
        existing_stage = existing_row_key[2]
        return "stage", _(
            "Kommunen har allerede fasen »%(existing)s« registreret den %(date)s; ret den i systemet eller i filen.",
            existing=str(STAGES.get(existing_stage, existing_stage)),
            date=format_date(parsed.effective_date),
        )

    def create(self, parsed: StageRow) -> None:
        """Record the change through the pipeline service (it flushes; the framework commits, and
        refuses the whole import on a broken rule, a ``FieldError``, which is a ``ValueError``)."""
        record_stage_change(parsed.municipality_code, parsed.stage, parsed.effective_date, parsed.note, self.actor,
                            locks=self.locks)

    def lock_place(self, parsed: StageRow) -> tuple[Optional[int], date, str]:
        """A stage change is locked by its municipality's region and its date."""
        return self.municipalities.region_of[parsed.municipality_code], parsed.effective_date, "date"
