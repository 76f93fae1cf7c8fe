"""Tasks: "Mine opgaver" (my open tasks, my region's, or the whole country) and the routes that
edit, complete, reopen and delete a task. New tasks are added on the municipality's page."""
from typing import Optional
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional as OptionalValue

from crm.clock import local_today
from crm.extensions import db
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.models import Region, Task
from crm.services import tasks
from crm.services.errors import Conflict, FieldError
from crm.views.access import read_required, write_required
from crm.views.forms import EmptyForm, VersionedForm, date_text_field, show_error, user_choices
from crm.views.helpers import int_arg

bp = Blueprint("tasks", __name__, url_prefix="/opgaver")


class TaskForm(VersionedForm):
    """A task on a municipality: what, who and by when (``version`` guards edits). New tasks are
    added with it on the municipality's page."""

    text = TextAreaField(_l("Opgave"), validators=[InputRequired(message=_l("Skriv hvad der skal gøres.")),
                                                   Length(max=2000)], render_kw={"rows": 2})
    owner = SelectField(_l("Ansvarlig"), validators=[OptionalValue()])
    due = date_text_field(_l("Frist"), validators=[OptionalValue()])
    submit = SubmitField(_l("Gem opgave"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner.choices = user_choices()

    def owner_id(self) -> Optional[int]:
        """The chosen owner's id, or None for nobody."""
        try:
            return int(self.owner.data) if self.owner.data else None
        except (TypeError, ValueError):
            return None


def _scope() -> str:
    """``?vis=mine|region|alle``; the working group (who owns no tasks) starts with the country."""
    default = "all" if current_user.is_working_group else "mine"
    return {"mine": "mine", "region": "region", "alle": "all"}.get(request.args.get("vis", ""), default)


@bp.route("/")
@read_required
def index():
    """My open tasks, overdue first then by due date; or my region's, or all; or the done ones."""
    scope = _scope()
    region_code: Optional[int] = None
    if scope == "region":
        region_code = current_user.region_code if current_user.is_ambassador else int_arg("region")
        if region_code is None:
            scope = "all"
    show_done = request.args.get("status") == "udfoert"
    today = local_today()
    task_list = tasks.task_list(current_user, scope, region_code=region_code, show_done=show_done)
    regions = db.session.scalars(select(Region).order_by(Region.code)).all()
    return render_template("tasks/index.html", tasks=task_list, scope=scope, region_code=region_code,
                           regions=regions, show_done=show_done, today=today, post_form=EmptyForm())


def _back(task: Task) -> str:
    """Where a button sends the user back to: ``next`` if it is a path on this site, else the
    municipality's tasks."""
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc and not parts.scheme:
        return target
    return url_for("municipalities.detail", code=task.municipality_code) + "#opgaver"


@bp.route("/<int:task_id>/ret", methods=["GET", "POST"])
@write_required
def edit(task_id: int):
    """Change a task's text, owner or due date unless someone else saved it meanwhile."""
    task = db.get_or_404(Task, task_id)
    tasks.ensure_can_change(task, actor=current_user)  # its form only for who may change it
    form = TaskForm()
    if request.method == "GET":
        form.text.data, form.owner.data = task.text, str(task.owner_id or "")
        form.due.data, form.version.data = task.due_date, task.version
        return _edit_page(task, form)
    if not form.validate_on_submit():
        return _edit_page(task, form, 400)
    try:
        tasks.edit_task(task, form.text.data, form.owner_id(), form.due.data, form.version.data, actor=current_user)
    except FieldError as error:
        status = show_error(form, error)
        if isinstance(error, Conflict):
            # The input stays; the form now carries the current version, so a deliberate second
            # save (after reading the new values) goes through.
            form.version.data = task.version
        return _edit_page(task, form, status)
    flash(_("Opgaven er gemt."), "success")
    return redirect(url_for("municipalities.detail", code=task.municipality_code) + "#opgaver")


def _edit_page(task: Task, form: TaskForm, status: int = 200):
    return render_template("tasks/edit.html", task=task, form=form, post_form=EmptyForm()), status


@bp.route("/<int:task_id>/udfoert", methods=["POST"])
@write_required
def complete(task_id: int):
    """Mark a task done by the current user, now."""
    task = db.get_or_404(Task, task_id)
    if EmptyForm().validate_on_submit():
        try:
            if tasks.complete_task(task, actor=current_user):
                flash(_("Opgaven er markeret som udført."), "success")
            else:
                who = task.done_by.display_name if task.done_by else _("en anden bruger")
                flash(_("Opgaven var allerede udført (af %(who)s).", who=who), "info")
        except Conflict as error:
            flash(str(error), "warning")
    return redirect(_back(task))


@bp.route("/<int:task_id>/genaabn", methods=["POST"])
@write_required
def reopen(task_id: int):
    """Open a done task again."""
    task = db.get_or_404(Task, task_id)
    if EmptyForm().validate_on_submit():
        try:
            if tasks.reopen_task(task, actor=current_user):
                flash(_("Opgaven er åbnet igen."), "success")
        except Conflict as error:
            flash(str(error), "warning")
    return redirect(_back(task))


@bp.route("/<int:task_id>/slet", methods=["POST"])
@write_required
def delete(task_id: int):
    """Delete a task entered by mistake (the audit log keeps a copy)."""
    task = db.get_or_404(Task, task_id)
    code = task.municipality_code
    if EmptyForm().validate_on_submit():
        try:
            tasks.delete_task(task, actor=current_user)
        except Conflict as error:
            flash(str(error), "warning")
        else:
            flash(_("Opgaven er slettet."), "success")
    return redirect(url_for("municipalities.detail", code=code) + "#opgaver")
