"""Pipeline stages: where each municipality stood on any date, derived from its stage history."""
from dataclasses import dataclass
from datetime import date
from typing import Optional

from sqlalchemy import and_, func, select

from crm.extensions import db
from crm.models import COVERED_STAGES, DEFAULT_STAGE, Municipality, StageChange


@dataclass(frozen=True)
class StageOnDate:
    """A municipality's stage on a date, and since when (None: never recorded)."""

    stage: str
    since: Optional[date]

    @property
    def covered(self) -> bool:
        return self.stage in COVERED_STAGES


def _latest_change_per_municipality(on: date):
    """Subquery: for each municipality, the date of its last change on or before ``on``."""
    return (
        select(
            StageChange.municipality_code.label("code"),
            func.max(StageChange.effective_date).label("effective_date"),
        )
        .where(StageChange.effective_date <= on)
        .group_by(StageChange.municipality_code)
        .subquery()
    )


def stages_on(on: date, region_code: Optional[int] = None) -> dict[int, StageOnDate]:
    """Every municipality's stage on ``on`` (optionally one region), in one query."""
    latest = _latest_change_per_municipality(on)
    query = (
        select(Municipality.code, StageChange.stage, StageChange.effective_date)
        .outerjoin(latest, latest.c.code == Municipality.code)
        .outerjoin(
            StageChange,
            and_(
                StageChange.municipality_code == latest.c.code,
                StageChange.effective_date == latest.c.effective_date,
            ),
        )
    )
    if region_code is not None:
        query = query.where(Municipality.region_code == region_code)
    return {
        code: StageOnDate(stage or DEFAULT_STAGE, since)
        for code, stage, since in db.session.execute(query)
    }


def stage_on(municipality, on: date) -> StageOnDate:
    """One municipality's stage on ``on``; ``municipality`` is a Municipality or its code."""
    municipality_code = getattr(municipality, "code", municipality)
    row = db.session.execute(
        select(StageChange.stage, StageChange.effective_date)
        .where(StageChange.municipality_code == municipality_code, StageChange.effective_date <= on)
        .order_by(StageChange.effective_date.desc())
        .limit(1)
    ).first()
    return StageOnDate(row.stage, row.effective_date) if row else StageOnDate(DEFAULT_STAGE, None)


class StageError(ValueError):
    """A stage change that breaks a rule; the message is for the user."""


def record_stage_change(
    municipality_code: int, stage: str, effective_date: date, note: Optional[str] = None, user=None
) -> StageChange:
    """Add a dated stage change (may be backdated). Refuses an unknown stage or a second entry
    for the same municipality and date. The caller commits."""
    from flask_babel import gettext as _

    from crm.models import STAGE_CODES

    if stage not in STAGE_CODES:
        raise StageError(_("Ukendt fase: %(stage)s", stage=stage))
    if db.session.get(Municipality, municipality_code) is None:
        raise StageError(_("Ukendt kommunekode: %(code)s", code=municipality_code))
    clash = db.session.scalar(
        select(StageChange).where(
            StageChange.municipality_code == municipality_code, StageChange.effective_date == effective_date
        )
    )
    if clash is not None:
        raise StageError(
            _("Der er allerede registreret en faseændring for denne kommune den %(date)s.",
              date=effective_date.strftime("%d-%m-%Y"))
        )
    change = StageChange(
        municipality_code=municipality_code,
        stage=stage,
        effective_date=effective_date,
        note=note or None,
        recorded_by_id=getattr(user, "id", None),
    )
    db.session.add(change)
    db.session.flush()
    return change
