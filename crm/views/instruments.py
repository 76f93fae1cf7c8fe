"""Quality-measurement instruments (admins and the working group): the list of instruments and
versions, one version's items, bands and item mappings, and the forms that create a draft (possibly
a copy), change a draft's items and bands, activate, retire and map items between versions."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, NumberRange
from wtforms.validators import Optional as OptionalValue

from crm.extensions import db
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.models import InstrumentItem, InstrumentItemMapping, InstrumentVersion
from crm.models.user import ROLE_ADMIN, ROLE_WORKING_GROUP
from crm.services import fidelity, instruments
from crm.services.errors import Conflict, FieldError
from crm.views.access import roles_required
from crm.views.forms import DanishNumberField, EmptyForm, VersionedForm, show_error

bp = Blueprint("instruments", __name__, url_prefix="/maaleredskaber")

# The one exception to "the working group changes nothing" (crm.services.permissions.can_define_instruments).
define_required = roles_required(ROLE_ADMIN, ROLE_WORKING_GROUP)


class InstrumentForm(VersionedForm):
    code = StringField(_l("Kode"), validators=[InputRequired(), Length(max=40)])
    name_da = StringField(_l("Navn (dansk)"), validators=[InputRequired(), Length(max=200)])
    name_en = StringField(_l("Navn (engelsk)"), validators=[InputRequired(), Length(max=200)])
    submit = SubmitField(_l("Opret måleredskab"))


class DraftForm(VersionedForm):
    label = StringField(_l("Betegnelse for den nye version"), validators=[InputRequired(), Length(max=200)])
    copy_from = SelectField(_l("Kopiér punkter og niveauer fra"), validators=[OptionalValue()])
    submit = SubmitField(_l("Opret kladde"))


class ItemForm(VersionedForm):
    item_id = HiddenField()
    key = StringField(_l("Nøgle"), validators=[InputRequired(), Length(max=20)])
    section = StringField(_l("Afsnit"), validators=[InputRequired(), Length(max=100)])
    number = DanishNumberField(_l("Nummer i afsnittet"), validators=[InputRequired()])
    label_da = StringField(_l("Betegnelse (dansk)"), validators=[InputRequired(), Length(max=500)])
    label_en = StringField(_l("Betegnelse (engelsk)"), validators=[InputRequired(), Length(max=500)])
    min_score = DanishNumberField(_l("Laveste score"), default=1, validators=[InputRequired()])
    max_score = DanishNumberField(_l("Højeste score"), default=5, validators=[InputRequired()])
    allowed_values = StringField(_l("Tilladte værdier"), validators=[OptionalValue(), Length(max=100)],
                                 description=_l("Tom: alle hele tal fra laveste til højeste score. Ellers fx 1,3,5."))
    weight = DanishNumberField(_l("Vægt"), default=1, validators=[InputRequired(), NumberRange(min=1)])
    submit = SubmitField(_l("Gem punkt"))


class BandForm(VersionedForm):
    band_id = HiddenField()
    code = StringField(_l("Kode"), validators=[InputRequired(), Length(max=40)])
    lower_total = DanishNumberField(_l("Nedre samlet score"), validators=[InputRequired()])
    upper_total = DanishNumberField(_l("Øvre samlet score"), validators=[InputRequired()])
    label_da = StringField(_l("Betegnelse (dansk)"), validators=[InputRequired(), Length(max=200)])
    label_en = StringField(_l("Betegnelse (engelsk)"), validators=[InputRequired(), Length(max=200)])
    submit = SubmitField(_l("Gem niveau"))


class MappingForm(EmptyForm):
    from_item = SelectField(_l("Punkt i en anden version"), validators=[InputRequired()])
    to_item = SelectField(_l("Punkt i denne version"), validators=[InputRequired()])
    submit = SubmitField(_l("Kobl punkterne"))


def _version(version_id: int) -> InstrumentVersion:
    version = instruments.load_version(version_id)
    if version is None:
        abort(404)
    return version


@bp.route("/")
@define_required
def index():
    """Every instrument with its versions and how many reviews each has."""
    return render_template("instruments/index.html", instruments=instruments.instruments(),
                           counts=instruments.review_counts(), form=InstrumentForm())


@bp.route("/ny", methods=["POST"])
@define_required
def create():
    """Create an instrument with an empty draft version 1."""
    form = InstrumentForm()
    if form.validate_on_submit():
        try:
            instrument = instruments.create_instrument(form.data, actor=current_user)
        except FieldError as error:
            status = show_error(form, error)
        else:
            flash(_("Måleredskabet er oprettet med en tom kladde."), "success")
            return redirect(url_for(".version", version_id=instrument.versions[0].id))
    else:
        status = 400
    return render_template("instruments/index.html", instruments=instruments.instruments(),
                           counts=instruments.review_counts(), form=form), status


@bp.route("/version/<int:version_id>")
@define_required
def version(version_id: int):
    """One version: items, bands, mappings, and (for a draft) the forms that change them."""
    return _render_version(_version(version_id))


def _render_version(version_, item_form=None, band_form=None, draft_form=None, mapping_form=None, status=200):
    others = [v for v in version_.instrument.versions if v.id != version_.id]
    item_form = item_form or ItemForm(formdata=None, version=version_.version)
    band_form = band_form or BandForm(formdata=None, version=version_.version)
    draft_form = draft_form or DraftForm(formdata=None)
    draft_form.copy_from.choices = [(str(version_.id), fidelity.version_title(version_))] + [
        (str(v.id), fidelity.version_title(v)) for v in others] + [("", str(_l("— ingen (tom kladde) —")))]
    mapping_form = mapping_form or MappingForm(formdata=None)
    other_items = db.session.scalars(
        select(InstrumentItem).where(InstrumentItem.instrument_version_id.in_([v.id for v in others]))
        .order_by(InstrumentItem.instrument_version_id, InstrumentItem.position)).all() if others else []
    titles = {v.id: f"v{v.number}" for v in others}
    mapping_form.from_item.choices = [(str(i.id), f"{titles[i.instrument_version_id]} {i.key}: {i.label_da}")
                                      for i in other_items]
    mapping_form.to_item.choices = [(str(i.id), f"{i.key}: {i.label_da}") for i in version_.items]
    return render_template(
        "instruments/version.html", version=version_, scale=fidelity.scale_of(version_.id),
        mappings=instruments.mappings_into(version_.id), reviews=instruments.review_counts().get(version_.id, 0),
        item_form=item_form, band_form=band_form, draft_form=draft_form, mapping_form=mapping_form,
        form=EmptyForm(), edit_item=request.args.get("item", type=int), edit_band=request.args.get("band", type=int),
    ), status


def _failed(version_, error: FieldError, **forms):
    form = next(iter(forms.values()))
    status = show_error(form, error)
    if isinstance(error, Conflict):
        db.session.rollback()
        version_ = _version(version_.id)
    return _render_version(version_, status=status, **forms)


@bp.route("/version/<int:version_id>/kladde", methods=["POST"])
@define_required
def new_draft(version_id: int):
    """A new draft of this version's instrument, a copy of the chosen version (or empty)."""
    version_ = _version(version_id)
    form = DraftForm()
    form.copy_from.choices = [(str(v.id), "") for v in version_.instrument.versions] + [("", "")]
    if not form.validate_on_submit():
        return _render_version(version_, draft_form=form, status=400)
    source = next((v for v in version_.instrument.versions if str(v.id) == form.copy_from.data), None)
    try:
        draft = instruments.create_draft(version_.instrument, form.label.data, copy_from=source, actor=current_user)
    except FieldError as error:
        return _failed(version_, error, draft_form=form)
    flash(_("Kladden er oprettet."), "success")
    return redirect(url_for(".version", version_id=draft.id))


@bp.route("/version/<int:version_id>/punkt", methods=["POST"])
@define_required
def save_item(version_id: int):
    """Add or change an item of a draft."""
    version_ = _version(version_id)
    form = ItemForm()
    if not form.validate_on_submit():
        return _render_version(version_, item_form=form, status=400)
    item = next((i for i in version_.items if str(i.id) == (form.item_id.data or "")), None)
    if form.item_id.data and item is None:
        abort(404)
    try:
        instruments.save_item(version_, item, form.data, form.version.data, actor=current_user)
    except FieldError as error:
        return _failed(version_, error, item_form=form)
    flash(_("Punktet er gemt."), "success")
    return redirect(url_for(".version", version_id=version_id))


@bp.route("/version/<int:version_id>/punkt/<int:item_id>/slet", methods=["POST"])
@define_required
def delete_item(version_id: int, item_id: int):
    """Remove an item from a draft."""
    version_ = _version(version_id)
    item = next((i for i in version_.items if i.id == item_id), None)
    if item is None:
        abort(404)
    return _simple(version_, lambda: instruments.delete_item(version_, item, request.form.get("version"),
                                                             actor=current_user), _("Punktet er fjernet."))


@bp.route("/version/<int:version_id>/niveau", methods=["POST"])
@define_required
def save_band(version_id: int):
    """Add or change a band of a draft."""
    version_ = _version(version_id)
    form = BandForm()
    if not form.validate_on_submit():
        return _render_version(version_, band_form=form, status=400)
    band = next((b for b in version_.bands if str(b.id) == (form.band_id.data or "")), None)
    if form.band_id.data and band is None:
        abort(404)
    try:
        instruments.save_band(version_, band, form.data, form.version.data, actor=current_user)
    except FieldError as error:
        return _failed(version_, error, band_form=form)
    flash(_("Niveauet er gemt."), "success")
    return redirect(url_for(".version", version_id=version_id))


@bp.route("/version/<int:version_id>/niveau/<int:band_id>/slet", methods=["POST"])
@define_required
def delete_band(version_id: int, band_id: int):
    """Remove a band from a draft."""
    version_ = _version(version_id)
    band = next((b for b in version_.bands if b.id == band_id), None)
    if band is None:
        abort(404)
    return _simple(version_, lambda: instruments.delete_band(version_, band, request.form.get("version"),
                                                             actor=current_user), _("Niveauet er fjernet."))


@bp.route("/version/<int:version_id>/aktiver", methods=["POST"])
@define_required
def activate(version_id: int):
    """Activate a complete draft."""
    version_ = _version(version_id)
    return _simple(version_, lambda: instruments.activate(version_, request.form.get("version"), actor=current_user),
                   _("Versionen er aktiv og kan vælges til nye målinger."))


@bp.route("/version/<int:version_id>/udfas", methods=["POST"])
@define_required
def retire(version_id: int):
    """Retire an active version."""
    version_ = _version(version_id)
    return _simple(version_, lambda: instruments.retire(version_, request.form.get("version"), actor=current_user),
                   _("Versionen er udfaset. Dens målinger beholder den."))


@bp.route("/version/<int:version_id>/kobling", methods=["POST"])
@define_required
def map_items(version_id: int):
    """Map an item of another version to an item of this one."""
    version_ = _version(version_id)
    form = MappingForm()
    form.from_item.choices = [(form.from_item.data, "")] if form.from_item.data else []
    form.to_item.choices = [(form.to_item.data, "")] if form.to_item.data else []
    if not form.validate_on_submit():
        flash(_("Formularen var udløbet. Prøv igen."), "warning")
        return redirect(url_for(".version", version_id=version_id))
    source = db.session.get(InstrumentItem, int(form.from_item.data)) if form.from_item.data.isdigit() else None
    target = next((i for i in version_.items if str(i.id) == form.to_item.data), None)
    if source is None or target is None:
        abort(404)
    try:
        instruments.map_items(source, target, actor=current_user)
    except FieldError as error:
        flash(str(error), "warning")
        return redirect(url_for(".version", version_id=version_id)), 303
    flash(_("Punkterne er koblet."), "success")
    return redirect(url_for(".version", version_id=version_id))


@bp.route("/version/<int:version_id>/kobling/<int:mapping_id>/slet", methods=["POST"])
@define_required
def unmap(version_id: int, mapping_id: int):
    """Remove an item mapping."""
    version_ = _version(version_id)
    mapping = db.session.get(InstrumentItemMapping, mapping_id)
    if mapping is None:
        abort(404)
    return _simple(version_, lambda: instruments.unmap(mapping, actor=current_user), _("Koblingen er fjernet."))


def _simple(version_, action, message: str):
    """A POST-only button: CSRF, the service's action, a message, back to the version."""
    if not EmptyForm().validate_on_submit():
        flash(_("Formularen var udløbet. Prøv igen."), "warning")
        return redirect(url_for(".version", version_id=version_.id))
    try:
        action()
    except FieldError as error:
        db.session.rollback()
        flash(str(error), "warning")
        return redirect(url_for(".version", version_id=version_.id))
    flash(message, "success")
    return redirect(url_for(".version", version_id=version_.id))
