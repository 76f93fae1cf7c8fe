"""Cooperation plans: saving (with the signed-plan stage rule), documents, and each region's list
of target groups. Every change is made as the acting user (``actor``) under the region rule
(``Forbidden``) and commits."""
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Optional

from crm.clock import local_today
from crm.i18n import gettext as _
from crm.i18n import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from crm.extensions import db
from crm.models import CooperationPlan, Municipality, PsychiatricCentre, TargetGroup, plan_target_group
from crm.services.errors import Conflict, FieldError
from crm.services.locking import commit_versioned, ensure_version, flush_versioned, mark_updated
from crm.services.permissions import ensure_can_write, submitted_region
from crm.services.pipeline import PlanStageOutcome, apply_signed_plan
from crm.services.uploads import remove_stored, store_pdf


@dataclass
class PlanData:
    """What a plan form submits, already parsed (None: no region, or no valid one, chosen)."""

    title: str
    region_code: Optional[int]
    municipality_codes: list[int]
    centre_ids: list[int] = field(default_factory=list)
    target_group_ids: list[int] = field(default_factory=list)
    signed_date: Optional[date] = None
    valid_from: Optional[date] = None
    valid_to: Optional[date] = None
    health_cluster: str = ""
    health_agreement: str = ""
    note: str = ""


def plan_query():
    """Plans with everything the list and the page show, loaded eagerly (constant queries)."""
    return select(CooperationPlan).options(
        selectinload(CooperationPlan.municipalities),
        selectinload(CooperationPlan.centres),
        selectinload(CooperationPlan.target_groups),
        selectinload(CooperationPlan.region),
    )


def _by_ids(model, ids: Iterable[int]) -> list:
    ids = sorted(set(ids))
    if not ids:
        return []
    return list(db.session.scalars(select(model).where(model.id.in_(ids))))


def ensure_can_change(plan: CooperationPlan, *, actor) -> None:
    """``Forbidden`` unless ``actor`` may change ``plan`` (its owning region's rule)."""
    ensure_can_write(plan.region_code, user=actor)


def _check(data: PlanData, actor) -> list[Municipality]:
    """The region rule for what is submitted (the owning region and every municipality:
    ``Forbidden``), then the plan's own rules (``FieldError``); returns its municipalities."""
    submitted_region(data.region_code, actor=actor)
    codes = set(data.municipality_codes)
    municipalities = list(db.session.scalars(select(Municipality).where(Municipality.code.in_(codes)))) if codes else []
    for region_code in {m.region_code for m in municipalities}:
        ensure_can_write(region_code, user=actor)
    if not codes:
        raise FieldError(_("Vælg mindst én kommune."), "municipalities")
    if len(municipalities) != len(codes):
        raise FieldError(_("Ukendt kommune valgt."), "municipalities")
    if data.valid_from and data.valid_to and data.valid_to < data.valid_from:
        raise FieldError(_("»Gyldig til« skal ligge efter »Gyldig fra«."), "valid_to")
    if data.signed_date and data.signed_date > local_today():
        raise FieldError(_("Underskriftsdatoen kan ikke ligge i fremtiden."), "signed_date")
    return municipalities


def save_plan(plan: Optional[CooperationPlan], data: PlanData, version=None, document: Optional[FileStorage] = None,
              *, actor) -> tuple[CooperationPlan, list[PlanStageOutcome]]:
    """Create (``plan`` None) or update a plan as ``actor``, store its document, and move signed
    municipalities to ``plan_signed``. An update needs the ``version`` the user's form was shown
    with. Raises ``Forbidden``, ``FieldError``, ``Conflict`` or ``UploadError`` before anything is
    changed. Commits."""
    if plan is not None:
        ensure_can_change(plan, actor=actor)
    municipalities = _check(data, actor)
    if plan is not None:
        ensure_version(plan, version)
    stored = store_pdf(document) if document is not None and document.filename else None
    if plan is None:
        plan = CooperationPlan(title=data.title, region_code=data.region_code)
        db.session.add(plan)
    old_file = plan.document_file if stored else None
    # One flush for the whole change (one audit entry, one version step), not one per lazy load.
    with db.session.no_autoflush:
        plan.title = data.title.strip()
        plan.region_code = data.region_code
        plan.municipalities = sorted(municipalities, key=lambda m: m.name)
        plan.centres = _by_ids(PsychiatricCentre, data.centre_ids)
        plan.target_groups = _by_ids(TargetGroup, data.target_group_ids)
        plan.signed_date = data.signed_date
        plan.valid_from = data.valid_from
        plan.valid_to = data.valid_to
        plan.health_cluster = data.health_cluster.strip() or None
        plan.health_agreement = data.health_agreement.strip() or None
        plan.note = data.note.strip() or None
        if stored:
            plan.document_file, plan.document_name = stored.stored_name, stored.original_name
    mark_updated(plan, actor)
    try:
        flush_versioned(plan)  # the UPDATE, where the database checks the version
        outcomes = apply_signed_plan(plan, actor)
        commit_versioned(plan)
    except Conflict:  # someone saved the plan between our version check and now
        remove_stored(stored.stored_name if stored else None)
        raise
    remove_stored(old_file)  # only once the new one is safely recorded
    return plan, outcomes


def delete_plan(plan: CooperationPlan, *, actor) -> None:
    """Delete a plan and its stored document as ``actor``; stage history stays (it is the record
    of what happened). Raises ``Forbidden``, or ``Conflict`` when someone saved it this instant.
    Commits."""
    ensure_can_change(plan, actor=actor)
    stored = plan.document_file
    db.session.delete(plan)
    commit_versioned(plan)
    remove_stored(stored)


def remove_document(plan: CooperationPlan, *, actor) -> None:
    """Detach and delete a plan's document as ``actor``. Raises ``Forbidden``, or ``Conflict`` when
    someone saved the plan this instant. Commits."""
    ensure_can_change(plan, actor=actor)
    stored = plan.document_file
    plan.document_file = None
    plan.document_name = None
    mark_updated(plan, actor)
    commit_versioned(plan)
    remove_stored(stored)


def target_groups_by_region() -> dict[int, list[TargetGroup]]:
    """Every region's target groups by name, with how many plans use each (two queries)."""
    groups: dict[int, list[TargetGroup]] = {}
    for group in db.session.scalars(select(TargetGroup).order_by(TargetGroup.region_code, TargetGroup.name)):
        groups.setdefault(group.region_code, []).append(group)
    return groups


def target_group_usage() -> dict[int, int]:
    """How many plans use each target group, counted by the database."""
    rows = db.session.execute(
        select(plan_target_group.c.target_group_id, func.count()).group_by(plan_target_group.c.target_group_id)
    )
    return {group_id: count for group_id, count in rows}


def add_target_group(region_code: Optional[int], name: str, *, actor) -> TargetGroup:
    """Add a target group to a region's list as ``actor``. Raises ``Forbidden`` (region rule) or
    ``FieldError`` (no region, an empty name or a duplicate). Commits."""
    region_code = submitted_region(region_code, actor=actor)
    name = " ".join((name or "").split())
    if not name:
        raise FieldError(_("Skriv målgruppens navn."), "name")
    clash = db.session.scalar(
        select(TargetGroup).where(TargetGroup.region_code == region_code, func.lower(TargetGroup.name) == name.lower())
    )
    if clash is not None:
        raise FieldError(_("Målgruppen »%(name)s« findes allerede i regionen.", name=name), "name")
    group = TargetGroup(region_code=region_code, name=name[:160])
    db.session.add(group)
    db.session.commit()
    return group


def delete_target_group(group: TargetGroup, *, actor) -> None:
    """Remove a target group that no plan uses (a used one would silently change those plans), as
    ``actor``. Raises ``Forbidden``, or ``FieldError`` when it is in use. Commits."""
    ensure_can_write(group.region_code, user=actor)
    used = target_group_usage().get(group.id, 0)
    if used:
        raise FieldError(
            ngettext("Målgruppen »%(name)s« bruges af %(num)s plan og kan ikke slettes.",
                     "Målgruppen »%(name)s« bruges af %(num)s planer og kan ikke slettes.", used, name=group.name)
        )
    db.session.delete(group)
    db.session.commit()
