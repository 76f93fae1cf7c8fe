"""The anchoring checklist: one item of a municipality's checklist (its history, and the form that
adds a new state for those who may write the region), the evidence documents, and the admins'
list of items. The checklist itself is on the municipality page; the score map on the dashboard
(``/overblik/forankring``, crm.views.dashboard)."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional as OptionalValue

from crm.clock import local_today
from crm.extensions import db
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.models import (ANCHORING_KINDS, ANCHORING_LEVELS, ANCHORING_STATES, TRACKS, AnchoringEntry, AnchoringItem,
                        Municipality)
from crm.models.anchoring import KIND_COUNTS, KIND_PER_YEAR, KIND_PIPELINE
from crm.services import anchoring as service
from crm.services.errors import FieldError
from crm.services.permissions import can_write_region
from crm.views.access import admin_required, read_required, write_required
from crm.views.files import send_pdf
from crm.views.forms import DanishNumberField, VersionedForm, date_text_field, non_negative, show_error

bp = Blueprint("anchoring", __name__)


class EntryForm(FlaskForm):
    """A new state of one item; the fields the item does not ask for are removed per item."""

    state = SelectField(_l("Status"), choices=[])
    effective_date = date_text_field(_l("Gælder fra"), validators=[InputRequired()])
    year = DanishNumberField(_l("År"), validators=[OptionalValue()],
                             description=_l("Hvilket års beskæftigelsesplan (tom: datoens år)."))
    departments = DanishNumberField(_l("Antal jobcenterafdelinger"), validators=[OptionalValue(), non_negative()])
    clinics = DanishNumberField(_l("Antal ambulatorier"), validators=[OptionalValue(), non_negative()])
    evidence_url = StringField(_l("Link til dokumentation"), validators=[OptionalValue(), Length(max=500)],
                               render_kw={"inputmode": "url", "placeholder": "https://"})
    document = FileField(_l("Dokumentation (PDF)"), render_kw={"accept": "application/pdf,.pdf"},
                         description=_l("Uden ny fil er den seneste registrerings dokument fortsat dokumentationen."))
    note = TextAreaField(_l("Note"), validators=[OptionalValue(), Length(max=5000)], render_kw={"rows": 3})
    submit = SubmitField(_l("Gem ny status"))

    def __init__(self, *args, item: AnchoringItem, **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = [(code, str(label)) for code, label in ANCHORING_STATES.items()]
        if item.kind != KIND_PER_YEAR:
            del self.year
        if item.kind != KIND_COUNTS:
            del self.departments
            del self.clinics


def _item_page(municipality: Municipality, item: AnchoringItem, form=None, status: int = 200):
    """The item's history for the municipality and, for who may write its region, the form."""
    writable = item.kind != KIND_PIPELINE and can_write_region(municipality.region_code, user=current_user)
    if form is None and writable:
        latest = next(iter(service.history(municipality, item)), None)
        form = EntryForm(formdata=None, item=item, state=latest.state if latest else "in_progress",
                         effective_date=local_today(), evidence_url=latest.evidence_url if latest else None)
    return render_template(
        "anchoring/item.html", title=item.label, municipality=municipality, item=item,
        entries=service.history(municipality, item), form=form if writable else None, kinds=ANCHORING_KINDS,
    ), status


@bp.route("/kommuner/<int:code>/forankring/<int:anchoring_item_id>")
@read_required
def item(code: int, anchoring_item_id: int):
    """One item of the municipality's checklist: its history (region-level: the region's)."""
    return _item_page(db.get_or_404(Municipality, code), db.get_or_404(AnchoringItem, anchoring_item_id))


@bp.route("/kommuner/<int:code>/forankring/<int:anchoring_item_id>", methods=["POST"])
@write_required
def record(code: int, anchoring_item_id: int):
    """Add a new state of the item (the service checks the region)."""
    municipality = db.get_or_404(Municipality, code)
    item = db.get_or_404(AnchoringItem, anchoring_item_id)
    service.ensure_can_record(municipality, actor=current_user)  # 403 before anything is read
    form = EntryForm(item=item)
    if not form.validate_on_submit():
        return _item_page(municipality, item, form, 400)
    data = service.EntryData(
        state=form.state.data, effective_date=form.effective_date.data, note=form.note.data or "",
        evidence_url=form.evidence_url.data or "", year=form.year.data if "year" in form else None,
        departments=form.departments.data if "departments" in form else None,
        clinics=form.clinics.data if "clinics" in form else None,
    )
    try:
        service.record_entry(municipality, item, data, form.document.data, actor=current_user)
    except FieldError as error:
        return _item_page(municipality, item, form, show_error(form, error))
    flash(_("»%(item)s« er opdateret.", item=item.label), "success")
    return redirect(url_for("municipalities.detail", code=code, _anchor="forankring"))


@bp.route("/forankring/dokument/<int:anchoring_entry_id>")
@read_required
def evidence(anchoring_entry_id: int):
    """An entry's evidence PDF, only for signed-in users, always as a download."""
    entry = db.get_or_404(AnchoringEntry, anchoring_entry_id)
    if not entry.evidence_file:
        abort(404)
    return send_pdf(entry.evidence_file, entry.evidence_name)


# --- Admin: the items ----------------------------------------------------------------------------

class ItemForm(VersionedForm):
    """An anchoring item; the code is typed once, when the item is made."""

    code = StringField(_l("Kode"), validators=[OptionalValue(), Length(max=40)],
                       description=_l("Små bogstaver, tal og _; kan ikke ændres senere."))
    label_da = StringField(_l("Betegnelse (dansk)"), validators=[InputRequired(), Length(max=200)])
    label_en = StringField(_l("Betegnelse (engelsk)"), validators=[InputRequired(), Length(max=200)])
    level = SelectField(_l("Niveau"), choices=[])
    kind = SelectField(_l("Art"), choices=[])
    track = SelectField(_l("Spor"), choices=[], coerce=int)
    position = DanishNumberField(_l("Rækkefølge"), validators=[InputRequired(), non_negative()])
    active_from = date_text_field(_l("Aktiv fra"), validators=[OptionalValue()])
    active_to = date_text_field(_l("Aktiv til"), validators=[OptionalValue()],
                                description=_l("Sæt en slutdato for at deaktivere punktet; historikken bevares."))
    submit = SubmitField(_l("Gem punkt"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.level.choices = [(code, str(label)) for code, label in ANCHORING_LEVELS.items()]
        self.kind.choices = [(code, str(label)) for code, label in ANCHORING_KINDS.items()]
        self.track.choices = [(number, f"{number}: {label}") for number, label in TRACKS.items()]


@bp.route("/admin/forankring/")
@admin_required
def items():
    """Every anchoring item, active or not."""
    return render_template("anchoring/items.html", title=_("Forankringspunkter"), items=service.all_items(),
                           today=local_today(), levels=ANCHORING_LEVELS, kinds=ANCHORING_KINDS)


@bp.route("/admin/forankring/ny", methods=["GET", "POST"])
@bp.route("/admin/forankring/<int:anchoring_item_id>", methods=["GET", "POST"])
@admin_required
def item_edit(anchoring_item_id: int | None = None):
    """Add or edit an item (deactivate it with an end date)."""
    item = db.get_or_404(AnchoringItem, anchoring_item_id) if anchoring_item_id else None
    form = ItemForm(obj=item)
    if item is not None:
        form.code.render_kw = {"readonly": True}
    elif not form.is_submitted():
        form.position.data = 10 * (len(service.all_items()) + 1)
    if form.validate_on_submit():
        data = service.ItemData(
            code=form.code.data or "", label_da=form.label_da.data, label_en=form.label_en.data,
            level=form.level.data, kind=form.kind.data, track=form.track.data, position=form.position.data,
            active_from=form.active_from.data, active_to=form.active_to.data,
        )
        try:
            item = service.save_item(item, data, form.version.data, actor=current_user)
        except FieldError as error:
            return render_template("anchoring/item_form.html", form=form, item=item), show_error(form, error)
        flash(_("Forankringspunktet er gemt."), "success")
        return redirect(url_for(".items"))
    status = 400 if form.is_submitted() else 200
    return render_template("anchoring/item_form.html", form=form, item=item), status
