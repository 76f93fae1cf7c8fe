"""Municipalities: the list (filters, sort, export), the board per region, and each municipality's
page with its timeline, stage history, notes and open tasks."""

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from crm.clock import local_today
from crm.i18n import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from crm.extensions import db
from crm.views.forms import EmptyForm, unconfirmed
from crm.models import STAGE_CODES, STAGES, Contact, Municipality, Note, Region, StageChange
from crm.services.permissions import can_write_region, ensure_can_write
from crm.views.access import read_required, write_required
from crm.services import pipeline, stages, tasks
from crm.services.export import EXPORT_FORMATS, table_response
from crm.services.locking import check_version, conflict_message
from crm.templating import format_date
from crm.views.pipeline_forms import MoveForm, NoteForm, StageChangeForm, StageCorrectionForm, TaskForm
from crm.views.helpers import int_arg, own_region_default, wants_json
from crm.views.urls import safe_url

bp = Blueprint("municipalities", __name__, url_prefix="/kommuner")
MAX_TIMELINE_PAGE = 10_000  # ?side= beyond this is nonsense input, not a page anyone reaches


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
def board():
    """One region's municipalities in one column per stage; cards move by form or drag and drop."""
    region = _board_region()
    columns = pipeline.board_columns(region.code)
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    return render_template("municipalities/board.html", region=region, regions=regions, columns=columns,
                           can_write=can_write_region(region.code), today=local_today(),
                           stage_choices=[(code, str(label)) for code, label in STAGES.items()])


@bp.route("/<int:code>/flyt", methods=["POST"])
@write_required
def move(code: int):
    """Move a card to another stage as of today (the board's form and its drag and drop)."""
    municipality = db.get_or_404(Municipality, code)
    ensure_can_write(municipality.region_code)
    form = MoveForm()
    if not form.validate_on_submit():
        return _move_answer(municipality, False, _("Vælg en gyldig fase."), 400)
    try:
        change = pipeline.move_on_board(municipality, form.stage.data, user=current_user)
        db.session.commit()
    except pipeline.StageError as error:
        db.session.rollback()
        return _move_answer(municipality, False, str(error), 400)
    except StaleDataError:  # today's entry was corrected or deleted by someone else this instant
        db.session.rollback()
        return _move_answer(municipality, False, _("Kortet blev flyttet af en anden i samme øjeblik. Se tavlen "
                                                   "igen, og flyt det på ny, hvis det stadig er nødvendigt."), 409)
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
    flash(message, "success" if ok else "danger")
    return redirect(url_for(".board", region=municipality.region_code))


@bp.route("/<int:code>")
@read_required
def detail(code: int):
    """One municipality: stage, open tasks, timeline newest first, and the forms to change them."""
    municipality = db.get_or_404(Municipality, code)
    return _render_detail(municipality)


def _render_detail(municipality: Municipality, status: int = 200, stage_warnings=(), **forms):
    """The municipality page; ``forms`` replaces a default form (to show errors and keep input).
    A new stage change starts at the current stage, so one click cannot set it back."""
    today = local_today()
    current = stages.stage_on(municipality.code, today)
    stage_form = forms.get("stage_form") or StageChangeForm(formdata=None, prefix="stage", stage=current.stage)
    note_form = forms.get("note_form") or NoteForm(formdata=None, prefix="note")
    task_form = forms.get("task_form")
    if task_form is None:
        task_form = TaskForm(formdata=None, prefix="task")
        if current_user.is_ambassador or current_user.is_admin:
            task_form.owner.data = str(current_user.id)  # a new task is usually one's own
    page = min(max(int_arg("side") or 1, 1), MAX_TIMELINE_PAGE)
    timeline = pipeline.timeline(municipality.code, page)
    contacts = db.session.scalars(
        select(Contact).where(Contact.municipality_code == municipality.code).order_by(Contact.name)
    ).all()
    links = {("activity", i.obj.id): safe_url(("activities.detail", "activities.edit"), activity_id=i.obj.id)
             for i in timeline.items if i.kind == "activity"}
    links.update({("review", i.obj.id): safe_url(("fidelity.detail", "fidelity.review", "fidelity.edit"), review_id=i.obj.id)
                  for i in timeline.items if i.kind == "review"})
    return render_template(
        "municipalities/detail.html",
        timeline=timeline,
        municipality=municipality,
        current=current,
        links=links,
        contacts=contacts,
        stage_form=stage_form,
        stage_warnings=stage_warnings,
        note_form=note_form,
        task_form=task_form,
        open_tasks=tasks.municipality_tasks(municipality.code),
        post_form=EmptyForm(),
        can_write=can_write_region(municipality.region_code),
        today=today,
    ), status


@bp.route("/<int:code>/faser", methods=["POST"])
@write_required
def add_stage(code: int):
    """Record a stage change (backdating allowed); a second entry on the same date is refused."""
    municipality = db.get_or_404(Municipality, code)
    ensure_can_write(municipality.region_code)
    form = StageChangeForm(prefix="stage")
    if form.validate_on_submit():
        warnings = unconfirmed(pipeline.backward_move_warnings(code, form.stage.data, form.effective_date.data))
        if warnings:
            return _render_detail(municipality, 200, stage_warnings=warnings, stage_form=form)
        try:
            pipeline.record_stage_change(code, form.stage.data, form.effective_date.data, form.note.data,
                                         current_user)
        except pipeline.StageError as error:
            db.session.rollback()
            form.effective_date.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Faseændringen er gemt."), "success")
            return redirect(url_for(".detail", code=code) + "#historik")
    return _render_detail(municipality, 400, stage_form=form)


@bp.route("/faser/<int:change_id>", methods=["GET", "POST"])
@write_required
def edit_stage(change_id: int):
    """Correct a wrongly recorded stage change (stage, date or note). A correction that meets
    someone else's newer save is refused with "Ændret af X i mellemtiden", the input kept."""
    change = db.get_or_404(StageChange, change_id)
    municipality = change.municipality
    ensure_can_write(municipality.region_code)
    # Stored values only for GET: a submitted form is exactly what the user sent (a missing
    # version must not be filled in from the record, or the lock would pass unseen).
    form = StageCorrectionForm(obj=change if request.method == "GET" else None)
    if request.method == "GET":
        form.version.data = str(change.version)
    elif form.validate_on_submit():
        conflict = check_version(change, form.version.data)
        if conflict is None:
            try:
                pipeline.correct_stage_change(change, form.stage.data, form.effective_date.data, form.note.data,
                                              current_user)
                db.session.commit()
            except pipeline.StageError as error:
                db.session.rollback()
                form.effective_date.errors.append(str(error))
            except StaleDataError:  # saved by someone else between our check and our write
                db.session.rollback()
                conflict = conflict_message(change)
            else:
                flash(_("Faseændringen er rettet."), "success")
                return redirect(url_for(".detail", code=municipality.code) + "#historik")
        if conflict:
            flash(conflict, "warning")
            form.version.data = str(change.version)  # a deliberate second save goes through
            return render_template("municipalities/stage_form.html", form=form, change=change,
                                   municipality=municipality, current=change), 409
    return render_template("municipalities/stage_form.html", form=form, change=change, municipality=municipality)


@bp.route("/faser/<int:change_id>/slet", methods=["POST"])
@write_required
def delete_stage(change_id: int):
    """Delete a wrong stage change (the audit log keeps a copy), unless someone changed it since
    the page was shown (the form's ``version``): then say who, and delete nothing."""
    change = db.get_or_404(StageChange, change_id)
    code = change.municipality_code
    ensure_can_write(change.municipality.region_code)
    if EmptyForm().validate_on_submit():
        conflict = check_version(change, request.form.get("version"))
        if conflict is None:
            try:
                pipeline.delete_stage_change(change)
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                conflict = conflict_message(change)
        if conflict:
            flash(conflict, "warning")
        else:
            flash(_("Faseændringen er slettet."), "success")
    return redirect(url_for(".detail", code=code) + "#historik")


@bp.route("/<int:code>/notater", methods=["POST"])
@write_required
def add_note(code: int):
    """Add a dated note to the timeline."""
    municipality = db.get_or_404(Municipality, code)
    ensure_can_write(municipality.region_code)
    form = NoteForm(prefix="note")
    if not form.validate_on_submit():
        return _render_detail(municipality, 400, note_form=form)
    pipeline.add_note(code, form.note_date.data, form.text.data, current_user)
    db.session.commit()
    flash(_("Notatet er gemt."), "success")
    return redirect(url_for(".detail", code=code) + "#tidslinje")


@bp.route("/notater/<int:note_id>/slet", methods=["POST"])
@write_required
def delete_note(note_id: int):
    """Delete a note (the audit log keeps a copy)."""
    note = db.get_or_404(Note, note_id)
    code = note.municipality_code
    ensure_can_write(note.municipality.region_code)
    if EmptyForm().validate_on_submit():
        db.session.delete(note)
        db.session.commit()
        flash(_("Notatet er slettet."), "success")
    return redirect(url_for(".detail", code=code) + "#tidslinje")


@bp.route("/<int:code>/opgaver", methods=["POST"])
@write_required
def add_task(code: int):
    """Add an open task to the municipality (several may be open at once)."""
    municipality = db.get_or_404(Municipality, code)
    ensure_can_write(municipality.region_code)
    form = TaskForm(prefix="task")
    if form.validate_on_submit():
        try:
            tasks.create_task(municipality, form.text.data, form.owner_id(), form.due.data, current_user)
        except tasks.TaskError as error:
            db.session.rollback()
            getattr(form, error.field or "text").errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Opgaven er gemt."), "success")
            return redirect(url_for(".detail", code=code) + "#opgaver")
    return _render_detail(municipality, 400, task_form=form)
