"""Tasks: "Mine opgaver" (my open tasks, my region's, or the whole country) and the routes that
edit, complete, reopen and delete a task. New tasks are added on the municipality's page."""
from typing import Optional
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from crm.clock import local_today
from crm.extensions import db
from crm.views.forms import EmptyForm
from crm.i18n import gettext as _
from crm.models import Region, Task
from crm.services.permissions import can_write_region, ensure_can_write
from crm.views.access import read_required, write_required
from crm.services import tasks
from crm.services.locking import check_version, commit_or_conflict
from crm.views.pipeline_forms import TaskForm
from crm.views.helpers import int_arg

bp = Blueprint("tasks", __name__, url_prefix="/opgaver")


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
                           regions=regions, show_done=show_done, today=today, post_form=EmptyForm(),
                           can_write=can_write_region)


def _task_for_writing(task_id: int) -> Task:
    """The task, or 404; 403 unless the user may change its municipality's region."""
    task = db.get_or_404(Task, task_id)
    ensure_can_write(task.municipality.region_code)
    return task


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
    task = _task_for_writing(task_id)
    form = TaskForm()
    if request.method == "GET":
        form.text.data, form.owner.data = task.text, str(task.owner_id or "")
        form.due.data, form.version.data = task.due_date, task.version
    if not form.validate_on_submit():
        return _edit_page(task, form, 400 if request.method == "POST" else 200)
    conflict = check_version(task, form.version.data)
    if conflict is None:
        try:
            tasks.edit_task(task, form.text.data, form.owner_id(), form.due.data, current_user)
        except tasks.TaskError as error:
            db.session.rollback()
            getattr(form, error.field or "text").errors.append(str(error))
            return _edit_page(task, form, 400)
        conflict = commit_or_conflict(task)
    if conflict:
        flash(conflict, "warning")
        # Keep the input; the form now carries the current version, so a deliberate second save
        # (after reading the new values) goes through.
        form.version.data = task.version
        return _edit_page(task, form, 409)
    flash(_("Opgaven er gemt."), "success")
    return redirect(url_for("municipalities.detail", code=task.municipality_code) + "#opgaver")


def _edit_page(task: Task, form: TaskForm, status: int):
    return render_template("tasks/edit.html", task=task, form=form, post_form=EmptyForm()), status


@bp.route("/<int:task_id>/udfoert", methods=["POST"])
@write_required
def complete(task_id: int):
    """Mark a task done by the current user, now."""
    task = _task_for_writing(task_id)
    if EmptyForm().validate_on_submit():
        if tasks.complete_task(task, current_user):
            conflict = commit_or_conflict(task)
            if conflict:
                flash(conflict, "warning")
            else:
                flash(_("Opgaven er markeret som udført."), "success")
        else:
            who = task.done_by.display_name if task.done_by else _("en anden bruger")
            flash(_("Opgaven var allerede udført (af %(who)s).", who=who), "info")
    return redirect(_back(task))


@bp.route("/<int:task_id>/genaabn", methods=["POST"])
@write_required
def reopen(task_id: int):
    """Open a done task again."""
    task = _task_for_writing(task_id)
    if EmptyForm().validate_on_submit():
        if tasks.reopen_task(task, current_user):
            conflict = commit_or_conflict(task)
            flash(conflict or _("Opgaven er åbnet igen."), "warning" if conflict else "success")
    return redirect(_back(task))


@bp.route("/<int:task_id>/slet", methods=["POST"])
@write_required
def delete(task_id: int):
    """Delete a task entered by mistake (the audit log keeps a copy)."""
    task = _task_for_writing(task_id)
    code = task.municipality_code
    if EmptyForm().validate_on_submit():
        tasks.delete_task(task, current_user)
        db.session.commit()
        flash(_("Opgaven er slettet."), "success")
    return redirect(url_for("municipalities.detail", code=code) + "#opgaver")
