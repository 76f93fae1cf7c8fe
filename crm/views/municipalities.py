"""Municipalities: the list (filters, sort, export), the board per region, and each municipality's
page with its timeline, stage history, notes and open tasks."""

from functools import cache

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from crm.clock import local_today
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from wtforms import HiddenField, SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional as OptionalValue, ValidationError

from crm.extensions import db
from crm.views.forms import EmptyForm, date_text_field, show_error, unconfirmed
from crm.models import STAGE_CODES, STAGES, Municipality, Note, Region, StageChange
from crm.views.access import read_required, write_required
from crm.views.page_cache import cached_page
from crm.services import anchoring, fidelity, period_locks, pipeline, stages, tasks
from crm.services import contacts as contact_service
from crm.services.errors import Conflict, FieldError, Locked
from crm.services.export import EXPORT_FORMATS
from crm.views.files import table_response
from crm.views.form_markup import form_field, simple_form
from crm.templating import activity_type_label, path_for
from crm.formatting import format_date
from crm.views.helpers import int_arg, own_region_default, wants_json
from crm.views.tasks import TaskForm

bp = Blueprint("municipalities", __name__, url_prefix="/kommuner")
MAX_TIMELINE_PAGE = 10_000  # ?side= beyond this is nonsense input, not a page anyone reaches
STAGE_CHOICES = [(code, label) for code, label in STAGES.items()]


class StageChangeForm(FlaskForm):
    """A (possibly backdated) stage change, or the correction of one."""

    stage = SelectField(_l("Fase"), choices=STAGE_CHOICES)
    effective_date = date_text_field(_l("Gælder fra"), validators=[InputRequired()], default=local_today)
    note = TextAreaField(_l("Bemærkning"), validators=[OptionalValue(), Length(max=2000)],
                         render_kw={"rows": 2})
    submit = SubmitField(_l("Gem faseændring"))

    def validate_effective_date(self, field):
        """A stage can be backdated but not set in the future: the history records what happened."""
        if field.data and field.data > local_today():
            raise ValidationError(_l("Datoen kan ikke ligge i fremtiden."))


class StageCorrectionForm(StageChangeForm):
    """The correction of a recorded stage change, optimistically locked like ``VersionedForm``."""

    version = HiddenField()


class MoveForm(FlaskForm):
    """The board card's "move to stage" form (the same route the drag-and-drop script posts to)."""

    stage = SelectField(_l("Flyt til fase"), choices=STAGE_CHOICES)
    submit = SubmitField(_l("Flyt"))


class NoteForm(FlaskForm):
    """A dated note on the municipality's timeline."""

    note_date = date_text_field(_l("Dato"), validators=[InputRequired()], default=local_today)
    text = TextAreaField(_l("Notat"), validators=[InputRequired(), Length(max=5000)], render_kw={"rows": 3})
    submit = SubmitField(_l("Tilføj notat"))


def _list_filters() -> dict:
    """The list's filters from the query string; anything unknown is ignored (never a 500)."""
    stage = request.args.get("stage", "")
    sort = request.args.get("sort", "region")
    return {
        "region_code": int_arg("region") or own_region_default(),
        "stage": stage if stage in STAGE_CODES else None,
        "overdue_only": request.args.get("overdue") == "1",
        "search": (request.args.get("q") or "").strip()[:100],
        "sort": sort if sort in pipeline.LIST_SORTS else "region",
    }


@bp.route("/")
@read_required
@cached_page
def index():
    """All municipalities with stage and next step (earliest open task); filter, sort, search,
    export what is shown."""
    filters = _list_filters()
    today = local_today()
    rows = pipeline.municipality_rows(today, **filters)
    fmt = request.args.get("format")
    if fmt in EXPORT_FORMATS:
        return _export(fmt, rows)
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    return render_template("municipalities/index.html", rows=rows, regions=regions, filters=filters,
                           today=today, sorts=pipeline.LIST_SORTS, elsewhere=_matches_elsewhere(filters, rows))


def _matches_elsewhere(filters: dict, rows) -> list:
    """A search within a region also names the matching municipalities in other regions, so a
    name is never "not found" only because the list started in the user's region."""
    if not filters["search"] or filters["region_code"] is None:
        return []
    everywhere = pipeline.municipality_rows(local_today(), **{**filters, "region_code": None})
    return [r.municipality for r in everywhere if r.municipality.region_code != filters["region_code"]]


def _export(fmt: str, rows):
    """The rows shown, as CSV or XLSX; "next step" is each municipality's earliest open task."""
    header = [_("Kode"), _("Kommune"), _("Region"), _("Fase"), _("Siden"), _("Næste skridt"),
              _("Ansvarlig"), _("Frist"), _("Overskredet")]
    data = [
        (r.municipality.code_str, r.municipality.name, r.municipality.region.name, str(STAGES[r.stage.stage]),
         r.stage.since, r.task.text if r.task else "",
         r.task.owner.display_name if r.task and r.task.owner else "",
         r.task.due_date if r.task else None, _("Ja") if r.overdue else _("Nej"))
        for r in rows
    ]
    return table_response(fmt, f"kommuner-{local_today().isoformat()}", header, data)


def _board_region() -> Region:
    """The region chosen with ``?region=``; else the user's own; else the first. Bad values fall back."""
    regions = {r.code: r for r in db.session.scalars(select(Region).order_by(Region.code))}
    for code in (int_arg("region"), current_user.region_code):
        if code in regions:
            return regions[code]
    return next(iter(regions.values()))


@bp.route("/tavle")
@read_required
@cached_page
def board():
    """One region's municipalities in one column per stage; cards move by form or drag and drop."""
    region = _board_region()
    columns = pipeline.board_columns(region.code)
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    return render_template("municipalities/board.html", region=region, regions=regions, columns=columns,
                           today=local_today(),
                           stage_choices=[(code, str(label)) for code, label in STAGES.items()])


@bp.route("/<int:code>/flyt", methods=["POST"])
@write_required
def move(code: int):
    """Move a card to another stage as of today (the board's form and its drag and drop)."""
    municipality = db.get_or_404(Municipality, code)
    pipeline.ensure_can_change(municipality, actor=current_user)  # a refusal comes before the form is read
    form = MoveForm()
    if not form.validate_on_submit():
        return _move_answer(municipality, False, _("Vælg en gyldig fase."), 400)
    try:
        change = pipeline.move_card(municipality, form.stage.data, actor=current_user)
    except (Conflict, Locked) as error:
        return _move_answer(municipality, False, str(error), 409)
    except FieldError as error:
        return _move_answer(municipality, False, str(error), 400)
    label = STAGES[form.stage.data]
    message = (_("%(name)s er flyttet til »%(stage)s«.", name=municipality.name, stage=label) if change
               else _("%(name)s står allerede i »%(stage)s«.", name=municipality.name, stage=label))
    return _move_answer(municipality, True, message)


def _move_answer(municipality: Municipality, ok: bool, message: str, status: int = 200):
    """JSON for the drag-and-drop script, else a flash message and back to the board."""
    if wants_json():
        stage = stages.stage_on(municipality.code, local_today())
        since = _("Siden %(date)s", date=format_date(stage.since)) if stage.since else _("Ingen registrering")
        return jsonify(ok=ok, message=message, stage=stage.stage, code=municipality.code, since=since), status
    flash(message, "success" if ok else "warning")
    return redirect(url_for(".board", region=municipality.region_code))


@bp.route("/<int:code>")
@read_required
@cached_page
def detail(code: int):
    """One municipality: stage, open tasks, timeline newest first, and the forms to change them."""
    municipality = db.session.scalars(_municipality_with_region(), {"code": code}).one_or_none()
    if municipality is None:
        abort(404)
    return _render_detail(municipality)


@cache
def _municipality_with_region():
    """The page's municipality with its region (the page header names it: no lazy load while
    rendering); built once per process, as building it cost about what running it does."""
    return (select(Municipality).where(Municipality.code == bindparam("code"))
            .options(joinedload(Municipality.region)))


def _render_detail(municipality: Municipality, status: int = 200, stage_warnings=(), **forms):
    """The municipality page; ``forms`` replaces a default form (to show errors and keep input).
    A new stage change starts at the current stage, so one click cannot set it back."""
    today = local_today()
    # Stage changes and reviews read once: the timeline shows them, today's stage, the covered
    # spell and the fidelity panel follow from them.
    changes = pipeline.stage_history(municipality.code)
    reviews = fidelity.reviews_newest_first(municipality.code)
    current, covered_from = pipeline.stage_and_spell(municipality.code, changes, today)
    stage_form = forms.get("stage_form") or StageChangeForm(formdata=None, prefix="stage", stage=current.stage)
    note_form = forms.get("note_form") or NoteForm(formdata=None, prefix="note")
    task_form = forms.get("task_form")
    if task_form is None:
        task_form = TaskForm(formdata=None, prefix="task")
        if current_user.is_ambassador or current_user.is_admin:
            task_form.owner.data = str(current_user.id)  # a new task is usually one's own
    page = min(max(int_arg("side") or 1, 1), MAX_TIMELINE_PAGE)
    task_lists = tasks.municipality_task_lists(municipality.code, pipeline.timeline_reach(page))
    timeline = pipeline.timeline(municipality.code, page, changes=changes, reviews=reviews,
                                 newest_tasks=task_lists.newest)
    contacts = contact_service.municipality_contacts(municipality.code)
    checklist = anchoring.checklist(municipality, today)
    # path_for: url_for's URLs, built once per endpoint (a page of activities links to each).
    links = {("activity", i.obj.id): path_for("activities.detail", activity_id=i.obj.id)
             for i in timeline.items if i.kind == "activity"}
    links.update({("review", i.obj.id): path_for("fidelity.detail", review_id=i.obj.id)
                  for i in timeline.items if i.kind == "review"})
    # Each activity type's label translated once, not once per activity.
    activity_labels = {i.obj.type: activity_type_label(i.obj.type) for i in timeline.items if i.kind == "activity"}
    return render_template(
        "municipalities/detail.html",
        timeline=timeline,
        municipality=municipality,
        current=current,
        links=links,
        activity_labels=activity_labels,
        contacts=contacts,
        stage_form=stage_form,
        stage_warnings=stage_warnings,
        note_form=note_form,
        task_form=task_form,
        open_tasks=task_lists.open,
        # Read even when no stage change is on this page of the timeline: the page's statements
        # must not depend on the data (one query).
        locks=period_locks.load_locks(),
        checklist=checklist,
        fidelity_panel=fidelity.panel_of(reviews, today, current, covered_from),
        anchoring_score=anchoring.checklist_score(checklist),
        post_form=EmptyForm(),
        today=today,
        form_field=form_field,
        simple_form=simple_form,
    ), status


@bp.route("/<int:code>/faser", methods=["POST"])
@write_required
def add_stage(code: int):
    """Record a stage change (backdating allowed); a second entry on the same date is refused."""
    municipality = db.get_or_404(Municipality, code)
    pipeline.ensure_can_change(municipality, actor=current_user)  # a refusal comes before the form is read
    form = StageChangeForm(prefix="stage")
    if not form.validate_on_submit():
        return _render_detail(municipality, 400, stage_form=form)
    warnings = unconfirmed(pipeline.backward_move_warnings(code, form.stage.data, form.effective_date.data))
    if warnings:
        return _render_detail(municipality, 200, stage_warnings=warnings, stage_form=form)
    try:
        pipeline.add_stage_change(municipality, form.stage.data, form.effective_date.data, form.note.data,
                                  actor=current_user)
    except FieldError as error:
        return _render_detail(municipality, show_error(form, error), stage_form=form)
    flash(_("Faseændringen er gemt."), "success")
    return redirect(url_for(".detail", code=code) + "#historik")


@bp.route("/faser/<int:change_id>", methods=["GET", "POST"])
@write_required
def edit_stage(change_id: int):
    """Correct a wrongly recorded stage change (stage, date or note). A correction that meets
    someone else's newer save is refused with "Ændret af X i mellemtiden", the input kept."""
    change = db.get_or_404(StageChange, change_id)
    pipeline.ensure_can_change(change.municipality, actor=current_user)  # its form only for who may change it
    # Stored values only for GET: a submitted form is exactly what the user sent (a missing
    # version must not be filled in from the record, or the lock would pass unseen).
    form = StageCorrectionForm(obj=change if request.method == "GET" else None)
    if request.method == "GET":
        form.version.data = str(change.version)
        return _stage_page(form, change)
    if not form.validate_on_submit():
        return _stage_page(form, change)
    try:
        pipeline.save_stage_correction(change, form.stage.data, form.effective_date.data, form.note.data,
                                       form.version.data, actor=current_user)
    except Conflict as error:
        show_error(form, error)
        form.version.data = str(change.version)  # a deliberate second save goes through
        return _stage_page(form, change, 409, current=change)
    except FieldError as error:
        show_error(form, error)
        return _stage_page(form, change)  # 200, as this page has always answered refused input
    flash(_("Faseændringen er rettet."), "success")
    return redirect(url_for(".detail", code=change.municipality_code) + "#historik")


def _stage_page(form: StageCorrectionForm, change: StageChange, status: int = 200, **context):
    return render_template("municipalities/stage_form.html", form=form, change=change,
                           municipality=change.municipality, **context), status


@bp.route("/faser/<int:change_id>/slet", methods=["POST"])
@write_required
def delete_stage(change_id: int):
    """Delete a wrong stage change (the audit log keeps a copy), unless someone changed it since
    the page was shown (the form's ``version``): then say who, and delete nothing."""
    change = db.get_or_404(StageChange, change_id)
    code = change.municipality_code
    if EmptyForm().validate_on_submit():
        try:
            pipeline.remove_stage_change(change, request.form.get("version"), actor=current_user)
        except Conflict as error:
            flash(str(error), "warning")
        else:
            flash(_("Faseændringen er slettet."), "success")
    return redirect(url_for(".detail", code=code) + "#historik")


@bp.route("/<int:code>/notater", methods=["POST"])
@write_required
def add_note(code: int):
    """Add a dated note to the timeline."""
    municipality = db.get_or_404(Municipality, code)
    pipeline.ensure_can_change(municipality, actor=current_user)  # a refusal comes before the form is read
    form = NoteForm(prefix="note")
    if not form.validate_on_submit():
        return _render_detail(municipality, 400, note_form=form)
    pipeline.add_note(municipality, form.note_date.data, form.text.data, actor=current_user)
    flash(_("Notatet er gemt."), "success")
    return redirect(url_for(".detail", code=code) + "#tidslinje")


@bp.route("/notater/<int:note_id>/slet", methods=["POST"])
@write_required
def delete_note(note_id: int):
    """Delete a note (the audit log keeps a copy)."""
    note = db.get_or_404(Note, note_id)
    code = note.municipality_code
    if EmptyForm().validate_on_submit():
        pipeline.delete_note(note, actor=current_user)
        flash(_("Notatet er slettet."), "success")
    return redirect(url_for(".detail", code=code) + "#tidslinje")


@bp.route("/<int:code>/opgaver", methods=["POST"])
@write_required
def add_task(code: int):
    """Add an open task to the municipality (several may be open at once)."""
    municipality = db.get_or_404(Municipality, code)
    pipeline.ensure_can_change(municipality, actor=current_user)  # a refusal comes before the form is read
    form = TaskForm(prefix="task")
    if not form.validate_on_submit():
        return _render_detail(municipality, 400, task_form=form)
    try:
        tasks.create_task(municipality, form.text.data, form.owner_id(), form.due.data, actor=current_user)
    except FieldError as error:
        return _render_detail(municipality, show_error(form, error), task_form=form)
    flash(_("Opgaven er gemt."), "success")
    return redirect(url_for(".detail", code=code) + "#opgaver")
