"""Import of activities and stage changes from spreadsheets: upload → full check report → confirm.

The uploaded file waits between the two steps in the pending-upload store
(``crm.services.pending_uploads``), under a random token that only its uploader can use. The
confirm step checks the file again (data may have changed meanwhile) and writes all rows, or with
the user's consent only the good ones.
"""
from dataclasses import dataclass
from typing import Optional

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from crm.i18n import gettext as _
from crm.i18n import ngettext
from crm.i18n import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SubmitField

from crm.views.forms import EmptyForm
from crm.views.access import write_required
from crm.services.export import csv_bytes
from crm.views.files import download
from crm.services.activities import ActivityImporter
from crm.services import pending_uploads
from crm.services.importing import ALL_OR_NOTHING, GOOD_ROWS_ONLY, Importer, ImportRefused, check_file
from crm.services.expense_import import ExpenseImporter
from crm.services.stage_import import StageImporter

bp = Blueprint("imports", __name__, url_prefix="/import")


@dataclass(frozen=True)
class ImportKind:
    """One kind of import offered in the UI."""

    title: str
    importer: type[Importer]
    example: tuple[str, ...]
    done_endpoint: str
    #: The template's header, if not the English column names (the expense import: Danish).
    template_header: Optional[tuple[str, ...]] = None
    #: The template in Danish Excel's dialect (semicolons, decimal comma), as a finance extract is.
    template_excel: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return self.importer.columns


KINDS = {
    "activities": ImportKind(_l("Aktiviteter"), ActivityImporter,
                             ("05-03-2025", "dialogue_meeting", "Dialogmøde med Jobcenter Aarhus og Psykiatrien",
                              "1082", "751", "12", "2,5", ""), "activities.index"),
    "stages": ImportKind(_l("Faseændringer"), StageImporter,
                         ("751", "dialogue", "05-03-2025", "Første møde holdt"), "municipalities.index"),
    "expenses": ImportKind(_l("Udgifter"), ExpenseImporter,
                           ("05-03-2025", "courses", "1.234,50", "Forplejning, IPS-kursus for jobkonsulenter",
                            "2025-0117", "Region Hovedstaden", ""), "grants.expenses",
                           ("dato", "udgiftspost", "beløb", "beskrivelse", "bilag", "region", "aktivitet"), True),
}


class UploadForm(FlaskForm):
    """The file to check."""

    file = FileField(_l("Fil (CSV eller XLSX)"), validators=[
        FileRequired(_l("Vælg en fil.")),
        FileAllowed(["csv", "txt", "xlsx", "xlsm"], _l("Kun CSV- eller XLSX-filer (.csv, .xlsx).")),
    ])
    submit = SubmitField(_l("Kontrollér filen"))


def _kind_or_404(kind: str) -> ImportKind:
    """The import kind named in the URL, or 404."""
    if kind not in KINDS:
        abort(404)
    return KINDS[kind]


def uploaded_bytes(form: UploadForm) -> Optional[bytes]:
    """The validated form's file as bytes; None (with the error beside the field) when it is too large."""
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    data = form.file.data.read(limit + 1)
    if len(data) > limit:
        form.file.errors = [_("Filen er for stor (højst %(mb)s MB).", mb=limit // (1024 * 1024))]
        return None
    return data


def load_pending(kind: str, token: str) -> tuple[str, bytes]:
    """(filename, bytes) of the signed-in user's pending upload; 404 if unknown, expired or someone else's."""
    try:
        upload = pending_uploads.load(kind, token, actor=current_user)
    except pending_uploads.UnknownUpload:
        abort(404)
    return upload.filename, upload.data


def _index_page(forms: Optional[dict] = None, status: int = 200):
    """The page with one upload form per kind."""
    forms = forms or {}
    for kind in KINDS:
        forms.setdefault(kind, UploadForm(prefix=kind, formdata=None))
    return render_template("imports/index.html", kinds=KINDS, forms=forms), status


@bp.route("/")
@write_required
def index():
    """Choose what to import and upload the file."""
    return _index_page()


@bp.route("/<kind>/skabelon.csv")
@write_required
def template(kind: str):
    """A CSV with the exact header and one example row, to fill in."""
    import_kind = _kind_or_404(kind)
    data = csv_bytes(import_kind.template_header or import_kind.columns, [import_kind.example],
                     excel=import_kind.template_excel)
    return download(data, f"import-{kind}-skabelon.csv", "csv")


def _posted_kind() -> tuple[str, ImportKind]:
    """The import kind named in the posted form (a hidden field), or 404."""
    kind = request.form.get("kind", "")
    return kind, _kind_or_404(kind)


@bp.route("/", methods=["POST"])
@write_required
def upload():
    """Step 1: check the whole file and show every problem; nothing is written."""
    kind, import_kind = _posted_kind()
    form = UploadForm(prefix=kind)
    if not form.validate_on_submit():
        return _index_page({kind: form}, 400)
    data = uploaded_bytes(form)
    if data is None:
        return _index_page({kind: form}, 400)
    filename = form.file.data.filename or ""
    result = check_file(import_kind.importer(actor=current_user._get_current_object()), data, filename)
    writable = not result.fatal and (result.good_rows or result.changed_rows)
    token = pending_uploads.save(kind, filename, data, actor=current_user) if writable else None
    return _report_page(kind, import_kind, result, filename, token)


def _report_page(kind: str, import_kind: ImportKind, result, filename: str, token: Optional[str], status: int = 200):
    """The check report with the choices left to the user."""
    return render_template("imports/report.html", kind=kind, import_kind=import_kind, result=result,
                           filename=filename, token=token, form=EmptyForm()), status


@bp.route("/bekraeft", methods=["POST"])
@write_required
def confirm():
    """Step 2: check again and write all rows, or (if the user chose so) only the good ones."""
    kind, import_kind = _posted_kind()
    if not EmptyForm().validate_on_submit():
        abort(400)
    token = request.form.get("token", "")
    filename, data = load_pending(kind, token)
    mode = GOOD_ROWS_ONLY if request.form.get("mode") == GOOD_ROWS_ONLY else ALL_OR_NOTHING
    result = check_file(import_kind.importer(actor=current_user._get_current_object()), data, filename)
    try:
        outcome = result.apply(mode, apply_changes=request.form.get("apply_changes") == "1")
    except ImportRefused as exc:
        flash(str(exc), "warning")
        writable = result.good_rows or result.changed_rows
        return _report_page(kind, import_kind, result, filename, token if writable else None, 409)
    pending_uploads.discard(token)
    flash(" ".join([
        ngettext("%(num)s række er importeret.", "%(num)s rækker er importeret.", outcome.created),
        ngettext("%(num)s række er opdateret.", "%(num)s rækker er opdateret.", outcome.updated),
        ngettext("%(num)s fandtes allerede og blev sprunget over.", "%(num)s fandtes allerede og blev sprunget over.",
                 outcome.skipped_present),
        ngettext("%(num)s række med andre tal blev ikke opdateret.",
                 "%(num)s rækker med andre tal blev ikke opdateret.", outcome.skipped_changed),
        ngettext("%(num)s række med fejl blev ikke importeret.", "%(num)s rækker med fejl blev ikke importeret.",
                 outcome.skipped_errors)]), "success")
    return redirect(url_for(import_kind.done_endpoint))
