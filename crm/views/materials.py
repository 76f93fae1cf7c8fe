"""Materials and their expert-panel review: the list (published ones for every user, with their
review trail), a material's page (versions, comments, verdicts, state history, the actions the
reader may take), create/edit, new version, the workflow's moves, the panel's comments and
verdicts, links to logged ``material`` activities, and each version's file as a download.

The rules (who may do what, in which state) are ``crm.services.materials``'; the views parse,
call and render."""
from typing import Optional

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import HiddenField, RadioField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length
from wtforms.validators import Optional as OptionalValue

from crm.formatting import format_date
from crm.extensions import db
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.models import MATERIAL_KINDS, MATERIAL_STATES, TRACKS, VERDICTS, Material, User
from crm.models.user import CRM_ROLES
from crm.services import materials as service
from crm.services.errors import FieldError
from crm.services.permissions import can_change_material
from crm.views.files import send_pdf
from crm.views.access import any_role_required, decider_required, panel_required, write_required
from crm.views.forms import VersionedForm, region_choices, show_error
from crm.views.helpers import int_arg, ints

bp = Blueprint("materials", __name__, url_prefix="/materialer")

OWNER_BUTTONS = ("submit", "withdraw")
DECIDER_BUTTONS = ("start_review", "publish", "retire")


# --------------------------------------------------------------------------------------------
# Forms


class VersionForm(VersionedForm):
    """A new version: a PDF or a link, and what changed."""

    document = FileField(_l("Fil (PDF)"))
    link = StringField(_l("Eller link"), validators=[OptionalValue(), Length(max=500)],
                       description=_l("Fx et link til en video. Upload en PDF-fil eller angiv et link, ikke begge."))
    version_note = TextAreaField(_l("Hvad er ændret?"), validators=[OptionalValue(), Length(max=5000)],
                                 render_kw={"rows": 2})
    submit = SubmitField(_l("Gem ny version"))

    def version_for_service(self) -> service.VersionData:
        return service.VersionData(upload=self.document.data, link=self.link.data or "",
                                   note=self.version_note.data or "")


class MaterialForm(VersionForm):
    """A material's own fields; a new material may come with its first version."""

    title = StringField(_l("Titel"), validators=[InputRequired(), Length(max=200)])
    kind = SelectField(_l("Type"), choices=[(code, label) for code, label in MATERIAL_KINDS.items()])
    track = SelectField(_l("Spor"), choices=[(str(n), f"{n}: {label}") for n, label in TRACKS.items()])
    regions = SelectMultipleField(_l("Regioner"), validators=[OptionalValue()],
                                  description=_l("Ingen valgt: landsdækkende. Ambassadører i de valgte regioner "
                                                 "kan også rette materialet."))
    authors = SelectMultipleField(_l("Forfattere med brugerkonto"), validators=[OptionalValue()],
                                  description=_l("De kan også rette materialet."))
    authors_text = StringField(_l("Andre forfattere"), validators=[OptionalValue(), Length(max=300)],
                               description=_l("Navne på forfattere uden brugerkonto, adskilt af komma."))
    summary = TextAreaField(_l("Beskrivelse"), validators=[OptionalValue(), Length(max=5000)], render_kw={"rows": 3})
    version_note = TextAreaField(_l("Note til versionen"), validators=[OptionalValue(), Length(max=5000)],
                                 render_kw={"rows": 2})
    submit = SubmitField(_l("Gem"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.regions.choices = region_choices()
        users = db.session.scalars(select(User).where(User.active.is_(True), User.role.in_(CRM_ROLES))
                                   .order_by(User.name, User.email))
        self.authors.choices = [(str(u.id), u.display_name) for u in users]

    def data_for_service(self) -> service.MaterialData:
        return service.MaterialData(
            title=self.title.data or "", kind=self.kind.data or "", track=int_arg("track", {"track": self.track.data}),
            summary=self.summary.data or "", authors_text=self.authors_text.data or "",
            region_codes=ints(self.regions.data), author_ids=ints(self.authors.data))


class MoveForm(VersionedForm):
    """One of the workflow's buttons (``action`` is the pressed button's value) with a note."""

    action = HiddenField()
    note = TextAreaField(_l("Bemærkning (valgfri)"), validators=[OptionalValue(), Length(max=5000)],
                         render_kw={"rows": 2})


class VerdictForm(VersionedForm):
    """The expert panel's verdict on the latest version."""

    verdict = RadioField(_l("Vurdering"), choices=[(code, label) for code, label in VERDICTS.items()],
                         validators=[InputRequired(message=_l("Vælg en vurdering."))])
    note = TextAreaField(_l("Begrundelse"), validators=[OptionalValue(), Length(max=5000)], render_kw={"rows": 3},
                         description=_l("Skal udfyldes, når panelet ønsker ændringer."))
    submit = SubmitField(_l("Giv vurdering"))


class CommentForm(FlaskForm):
    """An expert-panel member's comment on a version."""

    text = TextAreaField(_l("Kommentar"), validators=[InputRequired(message=_l("Skriv en kommentar.")),
                                                      Length(max=5000)], render_kw={"rows": 3})
    submit = SubmitField(_l("Tilføj kommentar"))


class LinkForm(VersionedForm):
    """Link a logged ``material`` activity to the material."""

    activity = SelectField(_l("Aktivitet af typen materiale/vejledning"), validators=[InputRequired()])
    submit = SubmitField(_l("Knyt til materialet"))


# --------------------------------------------------------------------------------------------
# Reading


def _choice(name: str, allowed) -> Optional[str]:
    """A filter argument if it is one of ``allowed``, else None (an unknown value never errors)."""
    value = request.args.get(name) or None
    return value if value in allowed else None


@bp.route("/")
@any_role_required
def index():
    """The materials the reader sees (the expert panel: in review and published), filtered by
    ``state``, ``kind`` and ``track``, each with its review trail in figures."""
    states = service.visible_states(current_user)
    state = _choice("state", states)
    kind = _choice("kind", MATERIAL_KINDS)
    track = int_arg("track")
    track = track if track in TRACKS else None
    rows = service.material_list(current_user, state=state, kind=kind, track=track)
    return render_template("materials/index.html", rows=rows, states=states, state=state, kind=kind, track=track,
                           state_labels=MATERIAL_STATES, kinds=MATERIAL_KINDS, tracks=TRACKS)


def _visible(material_id: int) -> Material:
    """The material for this reader (404 when missing, 403 when the panel may not see it)."""
    material = service.visible_material(material_id, current_user)
    if material is None:
        abort(404)
    return material


def _render_detail(material: Material, status: int = 200, **forms):
    """The material's page with the forms the reader may use (a refused one re-shown as sent)."""
    moves = {m.action for m in service.allowed_moves(material, current_user)}
    crm_reader = not current_user.is_expert_panel
    can_change = can_change_material(material, current_user)
    linkable = service.linkable_activities(current_user) if can_change else []
    move_form = forms.get("move_form") or MoveForm(formdata=None, version=material.version)
    link_form = forms.get("link_form") or LinkForm(formdata=None, version=material.version)
    link_form.activity.choices = [("", _("— vælg —"))] + [
        (str(a.id), f"{format_date(a.start_date)} · {a.title}") for a in linkable]
    return render_template(
        "materials/detail.html", material=material, moves=moves,
        owner_buttons=[service.MOVES_BY_ACTION[a] for a in OWNER_BUTTONS if a in moves],
        decider_buttons=[service.MOVES_BY_ACTION[a] for a in DECIDER_BUTTONS if a in moves],
        can_edit=can_change and service.is_editable(material),
        can_comment=current_user.is_expert_panel and material.state == "in_review",
        activities=service.linked_activities(material) if crm_reader else [],
        crm_reader=crm_reader, can_change=can_change, linkable=linkable,
        move_form=move_form, link_form=link_form,
        verdict_form=forms.get("verdict_form") or VerdictForm(formdata=None, version=material.version),
        comment_form=forms.get("comment_form") or CommentForm(formdata=None),
        history_label=service.history_label, state_label=service.state_label, tracks=TRACKS,
    ), status


@bp.route("/<int:material_id>")
@any_role_required
def detail(material_id: int):
    """One material: its facts, every version with the panel's comments and verdict, the state
    history, and the actions the reader may take."""
    return _render_detail(_visible(material_id))


@bp.route("/versioner/<int:material_version_id>/fil")
@any_role_required
def document(material_version_id: int):
    """A version's PDF, for readers who may see its material, always as a download."""
    version = service.visible_version(material_version_id, current_user)
    if version is None:
        abort(404)
    return send_pdf(version.document_file, version.document_name)


# --------------------------------------------------------------------------------------------
# Writing: the material and its versions (its ambassadors and admins)


def _to_change(material_id: int) -> Material:
    """The material for a user who may change it (404 when missing; the service's rule: else 403)."""
    material = service.load_material(material_id)
    if material is None:
        abort(404)
    service.ensure_can_change(material, actor=current_user)
    return material


def _render_form(form: MaterialForm, material: Optional[Material], status: int = 200):
    return render_template("materials/form.html", form=form, material=material), status


@bp.route("/ny", methods=["GET", "POST"])
@write_required
def new():
    """Create a draft material, with its first version (a PDF or a link) if one is given."""
    form = MaterialForm()
    if request.method == "GET":
        form.regions.data = [str(current_user.region_code)] if current_user.region_code else []
        form.authors.data = [str(current_user.id)] if current_user.is_ambassador else []
    if form.validate_on_submit():
        try:
            material = service.create_material(form.data_for_service(), form.version_for_service(),
                                               actor=current_user)
        except FieldError as error:
            return _render_form(form, None, show_error(form, error))
        flash(_("Materialet »%(title)s« er oprettet som kladde.", title=material.title), "success")
        return redirect(url_for(".detail", material_id=material.id))
    return _render_form(form, None, 400 if request.method == "POST" else 200)


@bp.route("/<int:material_id>/rediger", methods=["GET", "POST"])
@write_required
def edit(material_id: int):
    """Change a material's own fields (as a draft or when changes are requested)."""
    material = _to_change(material_id)
    if request.method == "GET" and not service.is_editable(material):
        flash(_("Materialet kan kun rettes som kladde, eller når ekspertpanelet har ønsket ændringer. "
                "Tilføj en ny version for at ændre det."), "warning")
        return redirect(url_for(".detail", material_id=material.id))
    form = MaterialForm(obj=material if request.method == "GET" else None)
    if request.method == "GET":
        form.regions.data = [str(r.code) for r in material.regions]
        form.authors.data = [str(u.id) for u in material.author_users]
        form.track.data = str(material.track)
        form.version.data = material.version
    elif form.validate_on_submit():
        try:
            service.update_material(material, form.data_for_service(), actor=current_user,
                                    version=form.version.data)
        except FieldError as error:
            form.version.data = material.version
            return _render_form(form, material, show_error(form, error))
        flash(_("Materialet »%(title)s« er gemt.", title=material.title), "success")
        return redirect(url_for(".detail", material_id=material.id))
    return _render_form(form, material, 400 if request.method == "POST" else 200)


@bp.route("/<int:material_id>/ny-version", methods=["GET", "POST"])
@write_required
def new_version(material_id: int):
    """Add a version (the material goes back to draft, to be submitted again)."""
    material = _to_change(material_id)
    if request.method == "GET" and not service.accepts_versions(material):
        flash(_("Mens materialet er indsendt eller til vurdering, kan der ikke tilføjes en ny version."), "warning")
        return redirect(url_for(".detail", material_id=material.id))
    form = VersionForm(version=material.version) if request.method == "GET" else VersionForm()
    if form.validate_on_submit():
        try:
            added = service.add_version(material, form.version_for_service(), actor=current_user,
                                        version=form.version.data)
        except FieldError as error:
            status = show_error(form, error)
            form.version.data = material.version
            return render_template("materials/version_form.html", form=form, material=material), status
        flash(_("Version %(number)s er tilføjet. Indsend materialet, når det er klar til vurdering.",
                number=added.number), "success")
        return redirect(url_for(".detail", material_id=material.id))
    status = 400 if request.method == "POST" else 200
    return render_template("materials/version_form.html", form=form, material=material), status


def _move(material: Material, allowed: tuple[str, ...]):
    """Make the pressed button's move (one of ``allowed``); a refusal re-shows the page."""
    form = MoveForm()
    action = request.form.get("action", "")
    if action not in allowed:
        action = ""
    try:
        done = service.move(material, action, actor=current_user, version=form.version.data,
                            note=form.note.data or "")
    except FieldError as error:
        form.version.data = material.version
        return _render_detail(material, show_error(form, error), move_form=form)
    flash(_("%(what)s: »%(title)s«.", what=str(done.done), title=material.title), "success")
    return redirect(url_for(".detail", material_id=material.id))


@bp.route("/<int:material_id>/handling", methods=["POST"])
@write_required
def transition(material_id: int):
    """The authors' moves: submit for review, withdraw a submission."""
    return _move(_to_change(material_id), OWNER_BUTTONS)


@bp.route("/<int:material_id>/beslutning", methods=["POST"])
@decider_required
def decide(material_id: int):
    """The working group's (and admins') moves: send to the expert panel, publish, retire."""
    return _move(_visible(material_id), DECIDER_BUTTONS)


@bp.route("/<int:material_id>/aktiviteter", methods=["POST"])
@write_required
def link_activity(material_id: int):
    """Link a logged ``material`` activity to the material (the report then counts the material)."""
    material = _to_change(material_id)
    form = LinkForm()
    try:
        service.link_activity(material, int_arg("activity", request.form), actor=current_user,
                              version=form.version.data)
    except FieldError as error:
        form.version.data = material.version
        return _render_detail(material, show_error(form, error), link_form=form)
    flash(_("Aktiviteten er knyttet til materialet."), "success")
    return redirect(url_for(".detail", material_id=material.id) + "#activities")


@bp.route("/<int:material_id>/aktiviteter/fjern", methods=["POST"])
@write_required
def unlink_activity(material_id: int):
    """Undo a link: the activity counts as an activity again."""
    material = _to_change(material_id)
    try:
        service.unlink_activity(material, int_arg("activity", request.form), actor=current_user,
                                version=request.form.get("version"))
    except FieldError as error:
        return _render_detail(material, show_error(MoveForm(formdata=None), error))
    flash(_("Aktiviteten er ikke længere knyttet til materialet."), "success")
    return redirect(url_for(".detail", material_id=material.id) + "#activities")


# --------------------------------------------------------------------------------------------
# The expert panel: comments and verdicts


@bp.route("/<int:material_id>/vurdering", methods=["POST"])
@panel_required
def verdict(material_id: int):
    """The panel's verdict on the latest version: changes requested or approved."""
    material = _visible(material_id)
    form = VerdictForm()
    try:
        judged = service.give_verdict(material, form.verdict.data or "", form.note.data or "",
                                      actor=current_user, version=form.version.data)
    except FieldError as error:
        form.version.data = material.version
        return _render_detail(material, show_error(form, error), verdict_form=form)
    flash(_("Vurderingen af version %(number)s er gemt: %(verdict)s.", number=judged.number,
            verdict=judged.verdict_label), "success")
    return redirect(url_for(".index"))


@bp.route("/versioner/<int:material_version_id>/kommentar", methods=["POST"])
@panel_required
def comment(material_version_id: int):
    """A panel member's comment on a version of a material in review."""
    version = service.visible_version(material_version_id, current_user) or abort(404)
    form = CommentForm()
    try:
        service.add_comment(version, form.text.data or "", actor=current_user)
    except FieldError as error:
        material = _visible(version.material_id)
        return _render_detail(material, show_error(form, error), comment_form=form)
    flash(_("Kommentaren er gemt."), "success")
    return redirect(url_for(".detail", material_id=version.material_id) + f"#version-{version.number}")
