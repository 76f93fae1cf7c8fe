"""Outcome monitoring: shares of citizens in paid hours or education against the programme's targets
per municipality, region and nation, the trend by quarter, and the import of STAR's figures
(upload → full check report → confirm all rows or only the good ones)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from crm.i18n import gettext as _
from crm.i18n import ngettext
from flask_login import current_user

from crm.views.forms import EmptyForm
from crm.views.access import read_required, write_required
from crm.services import outcomes, pending_uploads
from crm.services.export import EXPORT_FORMATS, csv_bytes
from crm.views.files import download, table_response
from crm.services.importing import ALL_OR_NOTHING, GOOD_ROWS_ONLY, ImportRefused, check_file
from crm.views.imports import UploadForm, load_pending, uploaded_bytes
from crm.views.helpers import int_arg

bp = Blueprint("outcomes", __name__, url_prefix="/resultater")

IMPORT_KIND = "outcomes"  # the kind of its uploads in the pending-upload store


@bp.app_template_filter("quarter_label")
def quarter_label(quarter: str) -> str:
    """``{{ '2025Q3'|quarter_label }}`` → '3. kvt. 2025'."""
    return outcomes.quarter_label(quarter)


@bp.app_template_global("outcomes_panel_data")
def outcomes_panel_data(municipality):
    """Data for ``municipalities/_outcomes_panel.html`` (one query)."""
    return outcomes.recent_for_municipality(municipality.code)


@bp.route("/")
@read_required
def index():
    """Shares against the targets for the chosen quarter (default the latest), and the trend."""
    available = outcomes.quarters()
    quarter = request.args.get("quarter")
    quarter = quarter if quarter in available else (available[0] if available else None)
    trend = outcomes.trend()
    region_code = int_arg("region")
    region_code = region_code if region_code in {r.code for r in trend.regions} else None
    rows = outcomes.municipality_outcomes(quarter, region_code) if quarter else []
    if request.args.get("format") in EXPORT_FORMATS and quarter:
        return _export(request.args["format"], quarter, rows)
    region_shares, nation = trend.latest(quarter) if quarter else ([], None)
    target_current, target_cumulative = outcomes.targets()
    return render_template(
        "outcomes/index.html", quarters=available, quarter=quarter, region_code=region_code, rows=rows,
        trend=trend, region_shares=region_shares, nation=nation, target_current=target_current,
        target_cumulative=target_cumulative, below=[r for r in rows if r.shares.below_target],
    )


def _export(fmt: str, quarter: str, rows):
    """The municipalities' figures and shares for one quarter, as CSV or XLSX."""
    header = [_("Kode"), _("Kommune"), _("Region"), _("Kvartal"), "citizens", "with_paid_hours", "with_employment",
              "with_education", "ever_paid_hours_or_education", _("Andel nu (%)"), _("Andel nogensinde (%)"),
              _("Under mål")]
    data = [(r.municipality.code_str, r.municipality.name, r.municipality.region.name, quarter,
             *(getattr(r.row, name) for name in outcomes.COUNT_COLUMNS),
             round(r.shares.current_pct, 1), round(r.shares.cumulative_pct, 1),
             _("Ja") if r.shares.below_target else _("Nej")) for r in rows if r.shares.citizens]
    return table_response(fmt, f"resultater-{quarter}", header, data)


# --- Import -------------------------------------------------------------------------------------


def _import_page(form=None, status: int = 200):
    """The upload page."""
    first, last = outcomes.quarter_range()
    return render_template("outcomes/import.html", form=form or UploadForm(prefix=IMPORT_KIND, formdata=None),
                           columns=outcomes.COLUMNS, first_quarter=first, last_quarter=last), status


@bp.route("/import")
@write_required
def import_form():
    """Upload STAR's quarterly figures (CSV or XLSX)."""
    return _import_page()


@bp.route("/import/skabelon.csv")
@write_required
def import_template():
    """A CSV with the exact header and one example row."""
    return download(csv_bytes(outcomes.COLUMNS, [outcomes.EXAMPLE_ROW]), "import-resultater-skabelon.csv", "csv")


@bp.route("/import", methods=["POST"])
@write_required
def import_upload():
    """Step 1: check the whole file and report every problem; nothing is written."""
    form = UploadForm(prefix=IMPORT_KIND)
    if not form.validate_on_submit():
        return _import_page(form, 400)
    data = uploaded_bytes(form)
    if data is None:
        return _import_page(form, 400)
    filename = form.file.data.filename or ""
    result = check_file(outcomes.OutcomeImporter(actor=current_user._get_current_object()), data, filename)
    # A refused file (personal data) is never kept, not even for the confirm step.
    writable = not result.fatal and result.good_rows
    token = pending_uploads.save(IMPORT_KIND, filename, data, actor=current_user) if writable else None
    return _report(result, filename, token, 422 if result.personal_data else 200)


def _report(result, filename: str, token, status: int = 200):
    """The check report with the choices left to the user."""
    return render_template("outcomes/import_report.html", result=result, filename=filename, token=token,
                           form=EmptyForm()), status


@bp.route("/import/bekraeft", methods=["POST"])
@write_required
def import_confirm():
    """Step 2: check again and write all rows, or (if the user chose so) only the good ones."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    token = request.form.get("token", "")
    filename, data = load_pending(IMPORT_KIND, token)
    mode = GOOD_ROWS_ONLY if request.form.get("mode") == GOOD_ROWS_ONLY else ALL_OR_NOTHING
    result = check_file(outcomes.OutcomeImporter(actor=current_user._get_current_object()), data, filename)
    try:
        outcome = result.apply(mode)
    except ImportRefused as exc:
        flash(str(exc), "warning")
        return _report(result, filename, token if result.good_rows else None, 409)
    pending_uploads.discard(token)
    importer = result.importer
    flash(" ".join([
        _("Importeret: %(created)s nye og %(updated)s opdaterede kvartalstal.", created=importer.created,
          updated=importer.updated),
        ngettext("%(num)s fandtes allerede og blev sprunget over.", "%(num)s fandtes allerede og blev sprunget over.",
                 outcome.skipped_present),
        ngettext("%(num)s række med fejl blev ikke importeret.", "%(num)s rækker med fejl blev ikke importeret.",
                 outcome.skipped_errors)]), "success")
    return redirect(url_for(".index"))

