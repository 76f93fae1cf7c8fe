"""Materials with expert-panel review: the workflow as data, and every change a material goes through.

A material goes draft → submitted → in review → changes requested / approved → published →
retired, each version kept. ``MOVES`` lists every move: the states it leaves, the state it enters,
and who makes it (the names are the rules in ``crm.services.permissions``):

- the material's ambassadors and admins (``owner``) create and edit it, add versions, submit it
  and withdraw a submission;
- the working group and admins (``decider``) send a submitted material to the expert panel,
  publish an approved one and retire it;
- the expert panel (``expert_panel``) comments on the versions of a material in review and gives
  the verdict on its latest version (changes requested or approved).

A new version takes the material back to draft (from changes requested, approved, published or
retired), so every version is reviewed before it is published; ``published_on`` keeps the date of
the first publication for the status report. Every write function takes the acting user as
``actor``, checks the rule (``Forbidden``), validates (``FieldError``), checks the optimistic lock
(``Conflict``), records the move in ``MaterialTransition`` and commits.
"""
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Optional

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.datastructures import FileStorage

from crm.clock import local_today
from crm.extensions import db
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.models import (MATERIAL_KINDS, MATERIAL_STATES, TRACKS, Activity, Material, MaterialComment,
                        MaterialTransition, MaterialVersion, Region, User)
from crm.models.material import (APPROVED, CHANGES_REQUESTED, DRAFT, IN_REVIEW, PUBLISHED, RETIRED, SUBMITTED,
                                 VERDICTS)
from crm.models.mixins import utcnow
from crm.models.user import CRM_ROLES
from crm.services.errors import Conflict, FieldError
from crm.services.locking import commit_versioned, ensure_version, mark_updated
from crm.services.permissions import (MATERIAL_DECIDER, MATERIAL_OWNER, MATERIAL_PANEL, PANEL_VISIBLE_STATES,
                                      can_change_activity, ensure_can_change_activity,
                                      ensure_can_change_material, ensure_can_create_material,
                                      ensure_can_see_material, ensure_may_move_material, may_move_material)
from crm.services.uploads import StoredFile, UploadError, remove_stored, store_pdf


@dataclass(frozen=True)
class Move:
    """One move of the workflow: ``action`` leaves one of ``sources`` for ``target``; ``who``
    makes it (a rule name of ``crm.services.permissions``); ``label`` is its button, ``done`` how
    the state history says it happened."""

    action: str
    sources: tuple[str, ...]
    target: str
    who: str
    label: Any
    done: Any


MOVES: tuple[Move, ...] = (
    Move("submit", (DRAFT,), SUBMITTED, MATERIAL_OWNER,
         _l("Indsend til vurdering"), _l("Indsendt til vurdering")),
    Move("withdraw", (SUBMITTED,), DRAFT, MATERIAL_OWNER,
         _l("Træk indsendelsen tilbage"), _l("Indsendelsen trukket tilbage")),
    Move("start_review", (SUBMITTED,), IN_REVIEW, MATERIAL_DECIDER,
         _l("Send til ekspertpanelet"), _l("Sendt til ekspertpanelet")),
    Move("request_changes", (IN_REVIEW,), CHANGES_REQUESTED, MATERIAL_PANEL,
         _l("Ønsk ændringer"), _l("Ekspertpanelet ønsker ændringer")),
    Move("approve", (IN_REVIEW,), APPROVED, MATERIAL_PANEL,
         _l("Godkend"), _l("Godkendt af ekspertpanelet")),
    Move("publish", (APPROVED,), PUBLISHED, MATERIAL_DECIDER, _l("Udgiv"), _l("Udgivet")),
    Move("retire", (APPROVED, PUBLISHED), RETIRED, MATERIAL_DECIDER,
         _l("Marker som udgået"), _l("Markeret som udgået")),
    Move("new_version", (DRAFT, CHANGES_REQUESTED, APPROVED, PUBLISHED, RETIRED), DRAFT, MATERIAL_OWNER,
         _l("Ny version"), _l("Ny version tilføjet")),
)
MOVES_BY_ACTION: dict[str, Move] = {m.action: m for m in MOVES}
# The panel's two moves are its verdict on the latest version (a form with a note, not a button);
# a new version is a form with a file or link. The rest are plain buttons.
VERDICT_MOVES: dict[str, str] = {CHANGES_REQUESTED: "request_changes", APPROVED: "approve"}
BUTTON_ACTIONS: tuple[str, ...] = ("submit", "withdraw", "start_review", "publish", "retire")
CREATED = "create"
HISTORY_LABELS: dict[str, Any] = {CREATED: _l("Oprettet"), **{m.action: m.done for m in MOVES}}
# Metadata (title, kind, regions…) can be changed while the material is with its authors; a
# material in review, approved or published changes only through a new version.
EDITABLE_STATES: tuple[str, ...] = (DRAFT, CHANGES_REQUESTED)
# The list's order: what the reader acts on or uses first.
LIST_ORDER: tuple[str, ...] = (PUBLISHED, APPROVED, IN_REVIEW, SUBMITTED, CHANGES_REQUESTED, DRAFT, RETIRED)
PANEL_LIST_ORDER: tuple[str, ...] = (IN_REVIEW, PUBLISHED)
MAX_TEXT = 5000
LINKABLE_ACTIVITY_LIMIT = 200


# --- Input -------------------------------------------------------------------------------------


@dataclass
class MaterialData:
    """What the material form submits, parsed."""

    title: str
    kind: str
    track: Optional[int]
    summary: str = ""
    authors_text: str = ""
    region_codes: list[int] = field(default_factory=list)
    author_ids: list[int] = field(default_factory=list)


@dataclass
class VersionData:
    """A version as submitted: an uploaded PDF or a link, and a note."""

    upload: Optional[FileStorage] = None
    link: str = ""
    note: str = ""

    @property
    def has_file(self) -> bool:
        return self.upload is not None and bool(self.upload.filename)


def _validate(data: MaterialData) -> tuple[list[Region], list[User]]:
    """The material's regions and author users, or ``FieldError`` naming the field."""
    title = " ".join((data.title or "").split())
    if not title:
        raise FieldError(_("Skriv materialets titel."), "title")
    if len(title) > 200:
        raise FieldError(_("Titlen må højst have 200 tegn."), "title")
    if data.kind not in MATERIAL_KINDS:
        raise FieldError(_("Vælg en type på listen."), "kind")
    if data.track not in TRACKS:
        raise FieldError(_("Vælg et spor (1–4)."), "track")
    if len(data.authors_text or "") > 300:
        raise FieldError(_("Forfatterfeltet må højst have 300 tegn."), "authors_text")
    if len(data.summary or "") > MAX_TEXT:
        raise FieldError(_("Beskrivelsen må højst have %(count)s tegn.", count=MAX_TEXT), "summary")
    codes = set(data.region_codes)
    regions = list(db.session.scalars(select(Region).where(Region.code.in_(codes)).order_by(Region.code))) if codes else []
    if len(regions) != len(codes):
        raise FieldError(_("Ukendt region valgt."), "regions")
    ids = set(data.author_ids)
    authors = list(db.session.scalars(
        select(User).where(User.id.in_(ids), User.role.in_(CRM_ROLES)).order_by(User.name))) if ids else []
    if len(authors) != len(ids):
        raise FieldError(_("Ukendt forfatter valgt."), "authors")
    return regions, authors


def _apply_data(material: Material, data: MaterialData, regions: list[Region], authors: list[User]) -> None:
    """Put validated form data on the material (one flush later: one audit entry)."""
    with db.session.no_autoflush:
        material.title = " ".join(data.title.split())
        material.kind = data.kind
        material.track = int(data.track or 0)
        material.summary = (data.summary or "").strip() or None
        material.authors_text = (data.authors_text or "").strip() or None
        material.regions = regions
        material.author_users = authors


def _check_version_data(data: VersionData, required: bool) -> str:
    """The version's link (stripped), after checking that exactly one of file and link is given
    (or neither, where a version is optional)."""
    link = (data.link or "").strip()
    if data.has_file and link:
        raise FieldError(_("Upload en PDF-fil eller angiv et link, ikke begge dele."), "link")
    if not data.has_file and not link:
        if required:
            raise FieldError(_("Upload en PDF-fil eller angiv et link til materialet."), "document")
        return ""
    if link and not link.lower().startswith(("https://", "http://")):
        raise FieldError(_("Linket skal begynde med https:// eller http://."), "link")
    if len(link) > 500:
        raise FieldError(_("Linket må højst have 500 tegn."), "link")
    if len(data.note or "") > MAX_TEXT:
        raise FieldError(_("Noten må højst have %(count)s tegn.", count=MAX_TEXT), "version_note")
    return link


def _store_upload(data: VersionData) -> Optional[StoredFile]:
    """Store the uploaded PDF through the existing checks (name, size, signature): ``FieldError``
    beside the file field when they refuse it. Called before anything is changed."""
    if not data.has_file:
        return None
    try:
        return store_pdf(data.upload)
    except UploadError as error:
        raise FieldError(str(error), "document") from None


def _new_version(material: Material, data: VersionData, stored: Optional[StoredFile], link: str,
                 actor) -> MaterialVersion:
    """Add the next version (the file already stored, or the link)."""
    number = max((v.number for v in material.versions), default=0) + 1
    version = MaterialVersion(
        number=number, link=link or None, note=(data.note or "").strip() or None,
        document_file=stored.stored_name if stored else None, document_name=stored.original_name if stored else None,
        created_by_id=getattr(actor, "id", None),
    )
    material.versions.append(version)
    return version


def _record(material: Material, action: str, target: str, actor, note: Optional[str] = None) -> None:
    """Enter ``target`` and write the move into the state history."""
    latest = material.latest_version
    material.transitions.append(MaterialTransition(
        action=action, from_state=material.state if action != CREATED else None, to_state=target,
        version_number=latest.number if latest else None, actor_id=getattr(actor, "id", None),
        note=(note or "").strip() or None,
    ))
    material.state = target
    mark_updated(material, actor)


def _commit(material: Material, stored_file: Optional[str] = None) -> None:
    """Commit; a file stored for this change is removed again when the commit is refused."""
    try:
        commit_versioned(material)
    except Conflict:
        remove_stored(stored_file)
        raise


def _check_source(material: Material, move: Move) -> None:
    if material.state not in move.sources:
        raise FieldError(_("Det kan ikke lade sig gøre, mens materialet har status »%(state)s«.",
                           state=material.state_label))


# --- Writes ------------------------------------------------------------------------------------


def ensure_can_change(material: Material, *, actor) -> None:
    """``Forbidden`` unless ``actor`` may change ``material`` (its ambassadors and admins): the
    forms' pages ask before they show anything."""
    ensure_can_change_material(material, actor)


def create_material(data: MaterialData, first: Optional[VersionData] = None, *, actor) -> Material:
    """Create a draft material as ``actor`` (an ambassador or admin), with its first version when
    a file or link is given; commits."""
    ensure_can_create_material(actor)
    regions, authors = _validate(data)
    first = first or VersionData()
    link = _check_version_data(first, required=False)
    stored = _store_upload(first)
    material = Material(title="", kind=data.kind, track=0, state=DRAFT, created_by_id=getattr(actor, "id", None))
    db.session.add(material)
    _apply_data(material, data, regions, authors)
    version = _new_version(material, first, stored, link, actor) if (stored or link) else None
    _record(material, CREATED, DRAFT, actor)
    _commit(material, version.document_file if version else None)
    return material


def update_material(material: Material, data: MaterialData, *, actor, version: Any) -> Material:
    """Change a material's title, kind, track, description, authors and regions; commits."""
    ensure_can_change_material(material, actor)
    ensure_version(material, version)
    if material.state not in EDITABLE_STATES:
        raise FieldError(_("Materialet kan kun rettes som kladde, eller når ekspertpanelet har ønsket ændringer. "
                           "Tilføj en ny version for at ændre det."))
    regions, authors = _validate(data)
    _apply_data(material, data, regions, authors)
    mark_updated(material, actor)
    _commit(material)
    return material


def add_version(material: Material, data: VersionData, *, actor, version: Any) -> MaterialVersion:
    """Add a version (a PDF through the upload checks, or a link); the material goes back to
    draft, to be submitted again. Commits."""
    move = MOVES_BY_ACTION["new_version"]
    ensure_may_move_material(move.who, material, actor)
    ensure_version(material, version)
    _check_source(material, move)
    link = _check_version_data(data, required=True)
    new = _new_version(material, data, _store_upload(data), link, actor)
    _record(material, move.action, move.target, actor)
    _commit(material, new.document_file)
    return new


def move(material: Material, action: str, *, actor, version: Any, note: str = "",
         on: Optional[date] = None) -> Move:
    """Make one of the plain moves (``BUTTON_ACTIONS``) as ``actor``; commits.

    Submitting needs a latest version (file or link) without a verdict. Publishing sets
    ``published_on`` to ``on`` (default: today) the first time only.
    """
    chosen = MOVES_BY_ACTION.get(action)
    if chosen is None or action not in BUTTON_ACTIONS:
        raise FieldError(_("Ukendt handling."))
    ensure_may_move_material(chosen.who, material, actor)
    ensure_version(material, version)
    _check_source(material, chosen)
    if action == "submit":
        latest = material.latest_version
        if latest is None:
            raise FieldError(_("Tilføj materialet som fil eller link (en version), før det indsendes."))
        if latest.verdict:
            raise FieldError(_("Version %(number)s er allerede vurderet. Tilføj en ny version, før materialet "
                               "indsendes igen.", number=latest.number))
    if len(note or "") > MAX_TEXT:
        raise FieldError(_("Noten må højst have %(count)s tegn.", count=MAX_TEXT), "note")
    if action == "publish" and material.published_on is None:
        day = on or local_today()
        if day > local_today():
            raise FieldError(_("Udgivelsesdatoen kan ikke ligge i fremtiden."))
        material.published_on = day
    _record(material, chosen.action, chosen.target, actor, note)
    _commit(material)
    return chosen


def give_verdict(material: Material, verdict: str, note: str, *, actor, version: Any) -> MaterialVersion:
    """The expert panel's verdict on the latest version of a material in review: changes
    requested (a note saying which is required) or approved; commits."""
    if verdict not in VERDICT_MOVES:
        raise FieldError(_("Vælg en vurdering."), "verdict")
    chosen = MOVES_BY_ACTION[VERDICT_MOVES[verdict]]
    ensure_may_move_material(chosen.who, material, actor)
    ensure_version(material, version)
    _check_source(material, chosen)
    note = (note or "").strip()
    if verdict == CHANGES_REQUESTED and not note:
        raise FieldError(_("Skriv, hvilke ændringer ekspertpanelet ønsker."), "note")
    if len(note) > MAX_TEXT:
        raise FieldError(_("Noten må højst have %(count)s tegn.", count=MAX_TEXT), "note")
    latest = material.latest_version
    latest.verdict = verdict
    latest.verdict_note = note or None
    latest.verdict_by_id = getattr(actor, "id", None)
    latest.verdict_at = utcnow()
    _record(material, chosen.action, chosen.target, actor, note)
    _commit(material)
    return latest


def add_comment(material_version: MaterialVersion, text: str, *, actor) -> MaterialComment:
    """An expert-panel member's comment on a version of a material in review; commits."""
    material = material_version.material
    ensure_may_move_material(MATERIAL_PANEL, material, actor)
    ensure_can_see_material(material, actor)
    if material.state != IN_REVIEW:
        raise FieldError(_("Der kan kun kommenteres, mens materialet er til vurdering i ekspertpanelet."))
    text = (text or "").strip()
    if not text:
        raise FieldError(_("Skriv en kommentar."), "text")
    if len(text) > MAX_TEXT:
        raise FieldError(_("Kommentaren må højst have %(count)s tegn.", count=MAX_TEXT), "text")
    comment = MaterialComment(material_version=material_version, text=text, author_id=getattr(actor, "id", None))
    db.session.add(comment)
    db.session.commit()
    return comment


def link_activity(material: Material, activity_id: Optional[int], *, actor, version: Any) -> Activity:
    """Link a logged ``material`` activity to this material: from then on the status report
    counts the material (when first published) and not the activity. Commits."""
    ensure_can_change_material(material, actor)
    ensure_version(material, version)
    activity = db.session.get(Activity, activity_id) if activity_id else None
    if activity is None:
        raise FieldError(_("Vælg en aktivitet på listen."), "activity")
    ensure_can_change_activity(activity, actor)
    if activity.type != "material":
        raise FieldError(_("Kun aktiviteter af typen »Materiale/vejledning« kan knyttes til et materiale."),
                         "activity")
    if activity.material_id not in (None, material.id):
        raise FieldError(_("Aktiviteten er allerede knyttet til et andet materiale."), "activity")
    activity.material_id = material.id
    mark_updated(activity, actor)
    mark_updated(material, actor)
    _commit(material)
    return activity


def unlink_activity(material: Material, activity_id: Optional[int], *, actor, version: Any) -> Activity:
    """Undo ``link_activity``: the activity counts as an activity again. Commits."""
    ensure_can_change_material(material, actor)
    ensure_version(material, version)
    activity = db.session.get(Activity, activity_id) if activity_id else None
    if activity is None or activity.material_id != material.id:
        raise FieldError(_("Aktiviteten er ikke knyttet til materialet."), "activity")
    ensure_can_change_activity(activity, actor)
    activity.material_id = None
    mark_updated(activity, actor)
    mark_updated(material, actor)
    _commit(material)
    return activity


# --- Reading -----------------------------------------------------------------------------------


def is_editable(material: Material) -> bool:
    """May the material's own fields be changed in its present state (``EDITABLE_STATES``)?"""
    return material.state in EDITABLE_STATES


def accepts_versions(material: Material) -> bool:
    """May a new version be added in the material's present state?"""
    return material.state in MOVES_BY_ACTION["new_version"].sources


def allowed_moves(material: Material, user) -> list[Move]:
    """The moves ``user`` may make on ``material`` now (the page's buttons and forms)."""
    return [m for m in MOVES if material.state in m.sources and may_move_material(m.who, material, user)]


def visible_states(user) -> tuple[str, ...]:
    """The states whose materials ``user`` sees, in the list's order."""
    return PANEL_LIST_ORDER if user.is_expert_panel else LIST_ORDER


@dataclass(frozen=True)
class MaterialRow:
    """A material in the list, with its review trail in figures."""

    material: Material
    versions: int
    comments: int
    approved_at: Any  # the latest approval (UTC), or None


def material_list(user, state: Optional[str] = None, kind: Optional[str] = None,
                  track: Optional[int] = None) -> list[MaterialRow]:
    """The materials ``user`` sees, optionally filtered, in ``visible_states`` order then by title,
    with their number of versions, comments and latest approval (two queries)."""
    states = visible_states(user)
    versions = (select(func.count(MaterialVersion.id)).where(MaterialVersion.material_id == Material.id)
                .correlate(Material).scalar_subquery())
    comments = (select(func.count(MaterialComment.id))
                .join(MaterialVersion, MaterialVersion.id == MaterialComment.material_version_id)
                .where(MaterialVersion.material_id == Material.id).correlate(Material).scalar_subquery())
    approved = (select(func.max(MaterialVersion.verdict_at))
                .where(MaterialVersion.material_id == Material.id, MaterialVersion.verdict == APPROVED)
                .correlate(Material).scalar_subquery())
    order = case({code: position for position, code in enumerate(states)}, value=Material.state)
    query = (select(Material, versions, comments, approved).where(Material.state.in_(states))
             .options(selectinload(Material.regions)).order_by(order, Material.title, Material.id))
    if state:
        query = query.where(Material.state == state)
    if kind:
        query = query.where(Material.kind == kind)
    if track:
        query = query.where(Material.track == track)
    return [MaterialRow(m, v or 0, c or 0, a) for m, v, c, a in db.session.execute(query)]


def load_material(material_id: int) -> Optional[Material]:
    """A material with everything its page shows, loaded in a fixed number of queries."""
    return db.session.scalar(
        select(Material).where(Material.id == material_id).options(
            selectinload(Material.regions), selectinload(Material.author_users), joinedload(Material.created_by),
            selectinload(Material.versions).options(
                joinedload(MaterialVersion.created_by), joinedload(MaterialVersion.verdict_by),
                selectinload(MaterialVersion.comments).joinedload(MaterialComment.author)),
            selectinload(Material.transitions).joinedload(MaterialTransition.actor),
        )
    )


def visible_material(material_id: int, user) -> Optional[Material]:
    """``load_material`` for a reader: None when missing; ``Forbidden`` when ``user`` may not see
    it (the expert panel and a material not in review or published)."""
    material = load_material(material_id)
    if material is not None:
        ensure_can_see_material(material, user)
    return material


def linked_activities(material: Material) -> list[Activity]:
    """The activities linked to the material, by date (one query)."""
    return list(db.session.scalars(
        select(Activity).where(Activity.material_id == material.id).order_by(Activity.start_date, Activity.id)))


def linkable_activities(user) -> list[Activity]:
    """``material`` activities not linked to any material that ``user`` may change, newest first
    (at most ``LINKABLE_ACTIVITY_LIMIT``; one query)."""
    query = (select(Activity).where(Activity.type == "material", Activity.material_id.is_(None))
             .order_by(Activity.start_date.desc(), Activity.id.desc()))
    if not user.is_admin:
        if not user.is_ambassador:
            return []
        query = query.where(
            (Activity.region_code == user.region_code)
            | (Activity.region_code.is_(None) & (Activity.created_by_id == user.id)))
    return [a for a in db.session.scalars(query.limit(LINKABLE_ACTIVITY_LIMIT)) if can_change_activity(a, user)]


def visible_version(material_version_id: int, user) -> Optional[MaterialVersion]:
    """A version whose material ``user`` may see (else ``Forbidden``); None when missing."""
    found = db.session.scalar(select(MaterialVersion).where(MaterialVersion.id == material_version_id)
                              .options(joinedload(MaterialVersion.material)))
    if found is not None:
        ensure_can_see_material(found.material, user)
    return found


def state_label(code: Optional[str]) -> str:
    return str(MATERIAL_STATES.get(code, code or ""))


def history_label(action: str) -> str:
    return str(HISTORY_LABELS.get(action, action))


__all__ = ["ensure_can_change", "is_editable", "accepts_versions", "MOVES", "MOVES_BY_ACTION", "BUTTON_ACTIONS", "VERDICT_MOVES", "VERDICTS", "EDITABLE_STATES",
           "PANEL_VISIBLE_STATES", "Move", "MaterialData", "VersionData", "MaterialRow", "create_material",
           "update_material", "add_version", "move", "give_verdict", "add_comment", "link_activity",
           "unlink_activity", "allowed_moves", "material_list", "load_material", "visible_material",
           "linked_activities", "linkable_activities", "visible_version", "state_label", "history_label",
           "RETIRED", "PUBLISHED"]
