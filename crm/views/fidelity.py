"""Fidelity reviews (IPS quality measurements): the national overview, each municipality's history,
recording and editing a review, and exporting one as XLSX or a printable form."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from crm.clock import local_today
from crm.i18n import gettext as _
from crm.i18n import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from crm.extensions import db
from crm.views.forms import EmptyForm
from crm.models import FidelityReview, Municipality, Region
from crm.services.permissions import can_write_region, ensure_can_write
from crm.views.access import read_required, write_required
from crm.services import fidelity
from crm.services.export import EXPORT_FORMATS, xlsx_bytes
from crm.views.files import download, table_response
from crm.services.locking import check_version, commit_or_conflict
from crm.views.fidelity_form import ReviewForm
from crm.views.helpers import int_arg

bp = Blueprint("fidelity", __name__, url_prefix="/fidelitet")


@bp.app_template_filter("fidelity_band")
def fidelity_band(total):
    """``{{ review.total|fidelity_band }}``: the band, or None for a draft."""
    return fidelity.band_or_none(total)


@bp.app_template_global("fidelity_panel_data")
def fidelity_panel_data(municipality):
    """Data for ``municipalities/_fidelity_panel.html`` (a few queries)."""
    return fidelity.panel_data(municipality.code)


def _region_filter():
    """The ?region= filter: a known region code, else None (all regions)."""
    code = int_arg("region")
    return code if code in {r for r in db.session.scalars(select(Region.code))} else None


@bp.route("/")
@read_required
def index():
    """The national (or one region's) overview: bands, weakest items, due and overdue reviews."""
    region_code = _region_filter()
    today = local_today()
    latest = fidelity.latest_complete_reviews(region_code)
    if request.args.get("format") in EXPORT_FORMATS:
        return _export_latest(request.args["format"], latest)
    due = fidelity.due_reviews(today, fidelity.DUE_WITHIN_DAYS, region_code)
    return render_template(
        "fidelity/index.html",
        regions=db.session.scalars(select(Region).order_by(Region.code)).all(),
        region_code=region_code,
        distribution=fidelity.band_distribution(region_code),
        averages=fidelity.item_averages(region_code),
        latest=latest,
        overdue=[d for d in due if d.overdue],
        due_soon=[d for d in due if not d.overdue],
        drafts=fidelity.drafts(region_code),
        within_days=fidelity.DUE_WITHIN_DAYS,
        today=today,
    )


def _export_latest(fmt: str, latest):
    """The latest complete review of each municipality, as CSV or XLSX."""
    header = [_("Kode"), _("Kommune"), _("Region"), _("Dato"), _("Samlet score"), _("Niveau")]
    rows = [(r.municipality.code_str, r.municipality.name, r.municipality.region.name, r.review_date, r.total,
             fidelity.band_for(r.total).label) for r in latest]
    return table_response(fmt, "fidelitet-seneste-maalinger", header, rows)


@bp.route("/kommune/<int:code>")
@read_required
def municipality(code: int):
    """One municipality's reviews: totals over time and which items improved or fell."""
    municipality_ = db.get_or_404(Municipality, code)
    data = fidelity.history(code)
    return render_template(
        "fidelity/history.html", municipality=municipality_, history=data,
        sections=fidelity.items_by_section(), panel=fidelity.panel_data(code),
        can_write=can_write_region(municipality_.region_code), form=EmptyForm(),
    )


def _load_review(review_id: int) -> FidelityReview:
    """A review with municipality, centre and ratings, or 404."""
    review = db.session.scalar(
        select(FidelityReview).where(FidelityReview.id == review_id)
        .options(joinedload(FidelityReview.municipality).joinedload(Municipality.region),
                 joinedload(FidelityReview.centre), selectinload(FidelityReview.ratings))
    )
    if review is None:
        abort(404)
    return review


@bp.route("/<int:review_id>")
@read_required
def detail(review_id: int):
    """One review: every item's score and comment, with changes since the previous review."""
    review = _load_review(review_id)
    return _render_review("fidelity/detail.html", review)


@bp.route("/<int:review_id>/udskriv")
@read_required
def print_review(review_id: int):
    """The review as a printable form."""
    review = _load_review(review_id)
    return _render_review("fidelity/print.html", review)


@bp.route("/skema")
@read_required
def blank_form():
    """An empty printable form, to fill in by hand during a review visit."""
    return render_template("fidelity/print.html", review=None, sections=fidelity.items_by_section(),
                           ratings={}, changes={}, previous=None, missing=[])


def _render_review(template: str, review: FidelityReview):
    """Detail and print pages share their data."""
    previous = fidelity.previous_complete(review) if review.total is not None else None
    return render_template(
        template, review=review, sections=fidelity.items_by_section(),
        ratings={r.item_key: r for r in review.ratings},
        previous=previous, changes=fidelity.item_changes(review, previous),
        missing=fidelity.missing_items(review),
        can_write=can_write_region(review.municipality.region_code), form=EmptyForm(),
    )


@bp.route("/<int:review_id>/eksport.xlsx")
@read_required
def export_review(review_id: int):
    """One review as an XLSX workbook: the facts on one sheet, the 25 items on another."""
    review = _load_review(review_id)
    band = fidelity.band_or_none(review.total)
    facts = [
        (_("Kommune"), f"{review.municipality.name} ({review.municipality.code_str})"),
        (_("Region"), review.municipality.region.name),
        (_("Dato"), review.review_date),
        (_("Psykiatrisk enhed"), review.centre.name if review.centre else ""),
        (_("Team"), review.team or ""),
        (_("Bedømmere"), review.reviewers or ""),
        (_("Samlet score"), review.total if review.total is not None else _("Kladde (ikke alle punkter vurderet)")),
        (_("Niveau"), band.label if band else ""),
        (_("Aftalt handleplan"), review.action_plan or ""),
    ]
    ratings = {r.item_key: r for r in review.ratings}
    items = [(item.section_label, item.number, item.name,
              ratings[item.key].score if item.key in ratings else None,
              ratings[item.key].comment if item.key in ratings else "")
             for item in fidelity.scale_items()]
    data = xlsx_bytes([
        (_("Måling"), [_("Felt"), _("Værdi")], facts),
        (_("Punkter"), [_("Afsnit"), _("Nr."), _("Punkt"), _("Score (1-5)"), _("Kommentar")], items),
    ])
    filename = f"fidelitet-{review.municipality.code_str}-{review.review_date.isoformat()}.xlsx"
    return download(data, filename, "xlsx")


@bp.route("/kommune/<int:code>/ny", methods=["GET", "POST"])
@write_required
def new(code: int):
    """Record a review for a municipality of the user's region."""
    municipality_ = db.get_or_404(Municipality, code)
    ensure_can_write(municipality_.region_code)
    form = ReviewForm(region_code=municipality_.region_code)
    if request.method == "GET":
        form.review_date.data = local_today()
    if form.validate_on_submit():
        review = fidelity.save_review(None, code, form.review_values(), form.ratings(), current_user)
        db.session.commit()
        _flash_saved(review)
        return redirect(url_for(".detail", review_id=review.id))
    return _render_form(form, municipality_, None)


@bp.route("/<int:review_id>/ret", methods=["GET", "POST"])
@write_required
def edit(review_id: int):
    """Edit a review (complete or draft); the total is recomputed from the ratings."""
    review = _load_review(review_id)
    ensure_can_write(review.municipality.region_code)
    form = ReviewForm(region_code=review.municipality.region_code)
    if request.method == "GET":
        form.fill_from(review)
    elif form.validate_on_submit():
        conflict = check_version(review, form.version.data)
        if conflict is None:
            fidelity.save_review(review, review.municipality_code, form.review_values(), form.ratings(),
                                 current_user)
            conflict = commit_or_conflict(review)
        if conflict is None:
            _flash_saved(review)
            return redirect(url_for(".detail", review_id=review.id))
        form.version.data = review.version
        flash(conflict, "danger")
        return _render_form(form, review.municipality, review, 409)
    return _render_form(form, review.municipality, review)


def _render_form(form: ReviewForm, municipality_: Municipality, review, status: int = 200):
    """The record/edit page; a failed POST keeps the user's input and gets status 400."""
    if request.method == "POST" and form.errors and status == 200:
        status = 400
    bands = [{"min": b.min_total, "max": b.max_total, "label": b.label} for b in fidelity.bands()]
    return render_template("fidelity/form.html", form=form, municipality=municipality_, review=review,
                           bands=bands), status


def _flash_saved(review: FidelityReview) -> None:
    """Tell the user the total and band, or which items keep the review a draft."""
    if review.total is not None:
        flash(_("Målingen er gemt: samlet score %(total)s (%(band)s).", total=review.total,
                band=fidelity.band_for(review.total).label), "success")
        return
    missing = fidelity.missing_items(review)
    flash(ngettext("Målingen er gemt som kladde: %(num)s af 25 punkter mangler en score (%(items)s). "
                   "En kladde har ingen samlet score og tæller ikke med.",
                   "Målingen er gemt som kladde: %(num)s af 25 punkter mangler en score (%(items)s). "
                   "En kladde har ingen samlet score og tæller ikke med.",
                   len(missing), items=", ".join(f"{i.section_label} {i.number}" for i in missing)), "warning")


@bp.route("/<int:review_id>/slet", methods=["POST"])
@write_required
def delete(review_id: int):
    """Delete a review (POST only)."""
    review = _load_review(review_id)
    ensure_can_write(review.municipality.region_code)
    if not EmptyForm().validate_on_submit():
        flash(_("Formularen var udløbet. Prøv igen."), "danger")
        return redirect(url_for(".detail", review_id=review.id))
    code = review.municipality_code
    fidelity.delete_review(review)
    db.session.commit()
    flash(_("Målingen er slettet."), "success")
    return redirect(url_for(".municipality", code=code))
