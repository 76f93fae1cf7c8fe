"""Fidelity reviews (IPS quality measurements): the national overview, each municipality's history,
recording and editing a review, exporting one as XLSX or a printable form, and the review form
(the review's facts and one score (1–5 or not rated) plus an optional comment for each of the
scale's 25 items, grouped by section)."""
import re
from functools import cache
from typing import Optional

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from crm.clock import local_today
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.i18n import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.validators import Optional as OptionalValue

from crm.extensions import db
from crm.formatting import format_date, number_formatter
from crm.templating import PathUrls
from markupsafe import Markup, escape
from crm.views.forms import DanishDateField, EmptyForm, VersionedForm, show_error
from crm.models import FidelityReview, Municipality, PsychiatricCentre, Region
from crm.services.errors import Conflict, FieldError
from crm.views.access import read_required, write_required
from crm.views.page_cache import cached_page
from crm.services import fidelity
from crm.services.export import EXPORT_FORMATS, xlsx_bytes
from crm.views.files import download, table_response
from crm.services import measurement_coverage
from crm.services.fidelity import Scale, ScaleItem
from crm.services.permissions import can_write_region
from crm.views.helpers import int_arg

bp = Blueprint("fidelity", __name__, url_prefix="/fidelitet")


# --------------------------------------------------------------------------------------------
# The review form

NOT_RATED = ""


def _field_suffix(item: ScaleItem) -> str:
    return re.sub(r"\W", "_", item.key.lower().replace("-", "_"))


def score_field(item: ScaleItem) -> str:
    """Form field name of an item's score ('Services-4' → 'score_services_4')."""
    return "score_" + _field_suffix(item)


def comment_field(item: ScaleItem) -> str:
    """Form field name of an item's comment."""
    return "comment_" + _field_suffix(item)


class ReviewForm(VersionedForm):
    """Record or edit a review; the item fields of the review's scale come from ``review_form``."""

    scale: Scale

    review_date = DanishDateField(_l("Dato for målingen"), validators=[InputRequired()])
    centre = SelectField(_l("Psykiatrisk enhed"), validators=[OptionalValue()])
    team = StringField(_l("Team eller enhed, der er målt"), validators=[OptionalValue(), Length(max=200)])
    reviewers = StringField(_l("Bedømmere"), validators=[OptionalValue(), Length(max=500)],
                            description=_l("Navne på dem, der gennemførte målingen."))
    action_plan = TextAreaField(_l("Aftalt handleplan"), validators=[OptionalValue(), Length(max=10000)],
                                render_kw={"rows": 5})
    submit = SubmitField(_l("Gem måling"))

    def __init__(self, *args, region_code: int, **kwargs):
        """Centres of the municipality's region; item labels in the reader's language."""
        super().__init__(*args, **kwargs)
        centres = db.session.scalars(
            select(PsychiatricCentre).where(PsychiatricCentre.region_code == region_code)
            .order_by(PsychiatricCentre.name)
        ).all()
        self.centre.choices = [("", str(_l("— ikke angivet —")))] + [(str(c.id), c.name) for c in centres]
        # Item names follow the reader's language, so set them per request.
        for item in self.scale.items:
            self[score_field(item)].label.text = f"{item.number}. {item.name}"
            self[comment_field(item)].label.text = _("Kommentar til %(item)s", item=f"{item.section_label} {item.number}")

    def validate_review_date(self, field):
        """A review has taken place: its date cannot lie in the future."""
        if field.data and field.data > local_today():
            raise ValidationError(_("Datoen må ikke ligge i fremtiden."))

    def sections(self):
        """(section name, [(item, score field, comment field)]) for the template."""
        return [(label, [(item, self[score_field(item)], self[comment_field(item)]) for item in items])
                for _code, label, items in self.scale.items_by_section()]

    def fill_from(self, review: FidelityReview) -> None:
        """Show a stored review (GET of the edit page)."""
        self.review_date.data = review.review_date
        self.centre.data = str(review.centre_id or "")
        self.team.data = review.team
        self.reviewers.data = review.reviewers
        self.action_plan.data = review.action_plan
        self.version.data = review.version
        stored = {r.item_key: r for r in review.ratings}
        for item in self.scale.items:
            rating = stored.get(item.key)
            self[score_field(item)].data = str(rating.score) if rating and rating.score is not None else NOT_RATED
            self[comment_field(item)].data = rating.comment if rating else ""

    def review_values(self) -> dict:
        """The review's own fields for ``crm.services.fidelity.save_review``."""
        return {
            "review_date": self.review_date.data,
            "centre_id": int(self.centre.data) if self.centre.data else None,
            "team": self.team.data,
            "reviewers": self.reviewers.data,
            "action_plan": self.action_plan.data,
        }

    def ratings(self) -> dict[str, tuple[Optional[int], Optional[str]]]:
        """Item key → (score or None, comment) as submitted."""
        result = {}
        for item in self.scale.items:
            raw = self[score_field(item)].data
            result[item.key] = (int(raw) if raw not in (None, NOT_RATED) else None,
                                self[comment_field(item)].data or None)
        return result


_FORM_CLASSES: dict[Scale, type] = {}


def review_form(scale: Scale, **kwargs) -> ReviewForm:
    """A review form for ``scale``: one score (its allowed values or not rated) and one comment
    field per item; the class is built once per scale."""
    form_class = _FORM_CLASSES.get(scale)
    if form_class is None:
        fields: dict = {"scale": scale}
        for item in scale.items:
            choices = [(NOT_RATED, _l("Ikke vurderet"))] + [(str(n), str(n)) for n in item.choices]
            fields[score_field(item)] = RadioField(item.key, choices=choices, default=NOT_RATED)
            fields[comment_field(item)] = TextAreaField(item.key, validators=[OptionalValue(), Length(max=2000)],
                                                        render_kw={"rows": 1})
        form_class = _FORM_CLASSES[scale] = type("ScaleReviewForm", (ReviewForm,), fields)
    return form_class(**kwargs)


# --------------------------------------------------------------------------------------------
# Routes


@bp.app_template_filter("fidelity_band")
def fidelity_band(value):
    """``{{ review|fidelity_band }}``: the band in the review's own version (a few queries), or
    ``{{ total|fidelity_band }}`` in IPS-25's bands; None for a draft."""
    if isinstance(value, FidelityReview):
        return fidelity.review_scale(value).band_or_none(value.total)
    return fidelity.band_or_none(value)


def _region_filter(regions: list[Region]) -> Optional[int]:
    """The ?region= filter: the code of one of ``regions``, else None (all regions)."""
    code = int_arg("region")
    return code if code in {r.code for r in regions} else None


@cache
def _regions_query():
    """The regions in code order; the statement is built once per process, not per overview."""
    return select(Region).order_by(Region.code)


@bp.route("/")
@read_required
@cached_page
def index():
    """The national (or one region's) overview: bands, weakest items, due and overdue reviews."""
    regions = db.session.scalars(_regions_query()).all()
    region_code = _region_filter(regions)
    today = local_today()
    versions = fidelity.versions_in_use()
    version = fidelity.chosen_version(versions, int_arg("version"))
    scale = fidelity.scale_of_version(version) if version else None
    if request.args.get("format") in EXPORT_FORMATS:
        latest = fidelity.latest_complete_reviews(region_code, version.id if version else None)
        return _export_latest(request.args["format"], latest, scale)
    due = fidelity.due_rows(today, fidelity.DUE_WITHIN_DAYS, region_code)
    as_of = _as_of(today)
    year = int_arg("year") or as_of.year
    if not 2000 <= year <= as_of.year:
        year = as_of.year
    labels = fidelity.scale_labels(scale)
    latest = fidelity.latest_complete_rows(region_code, version.id if version else None)
    averages = fidelity.item_averages(region_code, scale)
    coverage = measurement_coverage.coverage(year, as_of, region_code)
    drafts = fidelity.drafts(region_code)
    # The region rule asked once per region, not once per row of the due lists.
    writable_regions = {r.code for r in regions if can_write_region(r.code, user=current_user)}
    rows = _OverviewRows(regions, writable_regions, labels)
    overdue, due_soon = [d for d in due if d.overdue], [d for d in due if not d.overdue]
    return render_template(
        "fidelity/index.html",
        regions=regions,
        region_code=region_code,
        versions=versions, version=version, scale=scale, labels=labels,
        # Counted by the database (every count a page reports is), not from the rows shown.
        distribution=fidelity.band_distribution(region_code, scale),
        averages=averages, average_rows=rows.averages(averages),
        coverage=coverage, coverage_missing_items=rows.coverage_missing(coverage.missing),
        coverage_years=measurement_coverage.recent_years(as_of, 3, region_code),
        as_of=as_of,
        latest=latest, latest_rows=rows.latest(latest, scale),
        overdue=overdue, overdue_rows=rows.due(overdue),
        due_soon=due_soon, due_soon_rows=rows.due(due_soon),
        drafts=drafts, draft_items=rows.drafts(drafts),
        within_days=fidelity.DUE_WITHIN_DAYS,
        today=today,
    )


class _OverviewRows:
    """The overview's long lists (some 150 rows at 100 000 activities: weakest items, due lists,
    latest reviews, missing coverage, drafts), written here rather than by template loops: per row,
    Jinja's filter, ``_`` and ``path_for`` calls each looked up the locale or the request again and
    cost the page more than its queries. Every value is escaped, or is a number or a date; like
    the templates' ``_``, catalog text is not escaped. tests/test_fidelity.py checks the markup."""

    def __init__(self, regions: list[Region], writable_regions: set[int], labels: fidelity.ScaleLabels):
        self.region_names = {r.code: escape(r.short_name) for r in regions}
        self.writable_regions = writable_regions
        self.labels = labels
        self.urls = PathUrls()

    def averages(self, averages: list[fidelity.ItemAverage]) -> Markup:
        """The weakest items' rows, the five weakest marked."""
        one_decimal, whole = number_formatter(1), number_formatter()
        weakest = _("blandt de 5 svageste")
        rows = []
        for index, a in enumerate(averages):
            item = a.item
            mark, badge = (' class="table-warning"', f' <span class="badge text-bg-warning">{weakest}</span>') \
                if index < 5 else ("", "")
            rows.append(
                f'<tr data-item="{escape(item.key)}"{mark}>\n'
                f'<td>{escape(self.labels.sections[item.section])} {item.number}</td>\n'
                f'<td>{escape(self.labels.items[item.key])}{badge}</td>\n'
                f'<td class="text-end">{one_decimal(a.average)}</td><td class="text-end">{whole(a.low)}</td>'
                f'<td class="text-end">{whole(a.reviews)}</td>\n</tr>')
        return _markup(rows)

    def due(self, due: list[fidelity.DueRow]) -> Markup:
        """Rows of a due list: municipality, due date, last review and, where the reader may write
        the region, the button to record one."""
        overdue_label, record_label = _("Overskredet"), _("Registrér måling")
        never_reviewed = _("Ingen (plan underskrevet %(date)s)")
        rows = []
        for d in due:
            name = escape(d.name)
            row_class, overdue = ((' class="overdue"', f' <span class="badge text-bg-danger">{overdue_label}</span>')
                                  if d.overdue else ("", ""))
            last = (format_date(d.last_review_date) if d.last_review_date
                    else never_reviewed % {"date": format_date(d.covered_since)})
            button = (f'<a class="btn btn-sm btn-outline-primary" href="{self.urls("fidelity.new", code=d.code)}">'
                      f'{record_label}<span class="visually-hidden"> – {name}</span></a>'
                      if d.region_code in self.writable_regions else "")
            rows.append(
                f'<tr data-code="{d.code}"{row_class}>\n'
                f'<td>{self._municipality_link(d.code, name)} <span class="text-muted small">'
                f'({self.region_names[d.region_code]})</span></td>\n'
                f'<td>{format_date(d.due_date)}{overdue}</td>\n<td>{last}</td>\n<td>{button}</td>\n</tr>')
        return _markup(rows)

    def latest(self, latest: list[fidelity.LatestReview], scale: Optional[Scale]) -> Markup:
        """Each municipality's latest complete review: municipality, region, date, total, band."""
        # One badge per band, not per row.
        badges = {b.code: f'<span class="badge band-badge band-{escape(b.code)}">{escape(self.labels.bands[b.code])}'
                          '</span>' for b in (scale.bands if scale else ())}
        rows = []
        for r in latest:
            band = scale.band_or_none(r.total) if scale else None
            badge = badges[band.code] if band else ""
            rows.append(
                f'<tr><td>{self._municipality_link(r.municipality_code, escape(r.municipality_name))}</td>\n'
                f'<td>{self.region_names[r.region_code]}</td>\n'
                f'<td><a href="{self.urls("fidelity.detail", review_id=r.id)}">{format_date(r.review_date)}</a></td>\n'
                f'<td class="text-end">{r.total}</td><td>{badge}</td></tr>')
        return _markup(rows)

    def coverage_missing(self, missing: list[measurement_coverage.CoverageRow]) -> Markup:
        """The municipalities still missing this year's measurement, as list items."""
        return _markup([f'<li class="list-inline-item">{self._municipality_link(m.code, escape(m.name))}</li>'
                        for m in missing], "")

    def drafts(self, drafts: list[fidelity.DraftRow]) -> Markup:
        """The drafts, as list items linked to each."""
        return _markup([
            f'<li><a href="{self.urls("fidelity.detail", review_id=d.id)}">{escape(d.municipality_name)}, '
            f'{format_date(d.review_date)}</a>{f" – {escape(d.team)}" if d.team else ""}</li>' for d in drafts])

    def _municipality_link(self, code: int, escaped_name: Markup) -> str:
        return f'<a href="{self.urls("fidelity.municipality", code=code)}">{escaped_name}</a>'


def _markup(rows: list[str], separator: str = "\n") -> Markup:
    return Markup(separator.join(rows))  # nosec B704: _OverviewRows escapes every value it writes


def _as_of(today):
    """The ?as_of= date (dd-mm-yyyy or ISO) for the coverage, today when absent, invalid or later."""
    from crm.formatting import parse_date

    raw = request.args.get("as_of")
    try:
        value = parse_date(raw) if raw else None
    except ValueError:
        value = None
    return value if value and value <= today else today


def _export_latest(fmt: str, latest, scale):
    """The latest complete review of each municipality (of the chosen version), as CSV or XLSX."""
    header = [_("Kode"), _("Kommune"), _("Region"), _("Dato"), _("Samlet score"), _("Niveau")]
    rows = [(r.municipality.code_str, r.municipality.name, r.municipality.region.name, r.review_date, r.total,
             getattr(scale.band_or_none(r.total) if scale else None, "label", "")) for r in latest]
    return table_response(fmt, "fidelitet-seneste-maalinger", header, rows)


@bp.route("/kommune/<int:code>")
@read_required
def municipality(code: int):
    """One municipality's reviews: totals over time and which items improved or fell."""
    municipality_ = db.get_or_404(Municipality, code)
    data = fidelity.history(code)
    return render_template(
        "fidelity/history.html", municipality=municipality_, history=data,
        sections=data.scale.items_by_section() if data.scale else [], panel=fidelity.panel_data(code),
        form=EmptyForm(),
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


def _review_to_change(review_id: int) -> FidelityReview:
    """``_load_review``, for a user who may change it (the service's region rule: else 403)."""
    review = _load_review(review_id)
    fidelity.ensure_can_change(review, actor=current_user)
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
    scale = _chosen_scale()
    return render_template("fidelity/print.html", review=None, sections=scale.items_by_section(), scale=scale,
                           ratings={}, changes={}, previous=None, missing=[])


def _chosen_scale() -> Scale:
    """The active version chosen with ?version= (default IPS-25 v1, else the first active one)."""
    version = fidelity.chosen_version(fidelity.active_versions(), int_arg("version"))
    if version is None:
        abort(404)
    return fidelity.scale_of_version(version)


def _render_review(template: str, review: FidelityReview):
    """Detail and print pages share their data."""
    previous = fidelity.previous_complete(review) if review.total is not None else None
    scale = fidelity.review_scale(review)
    return render_template(
        template, review=review, sections=scale.items_by_section(), scale=scale,
        band=scale.band_or_none(review.total),
        ratings={r.item_key: r for r in review.ratings},
        previous=previous, changes=fidelity.item_changes(review, previous),
        missing=fidelity.missing_items(review), form=EmptyForm(),
    )


@bp.route("/<int:review_id>/eksport.xlsx")
@read_required
def export_review(review_id: int):
    """One review as an XLSX workbook: the facts on one sheet, the 25 items on another."""
    review = _load_review(review_id)
    scale = fidelity.review_scale(review)
    band = scale.band_or_none(review.total)
    facts = [
        (_("Kommune"), f"{review.municipality.name} ({review.municipality.code_str})"),
        (_("Region"), review.municipality.region.name),
        (_("Dato"), review.review_date),
        (_("Måleredskab"), scale.label),
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
             for item in scale.items]
    data = xlsx_bytes([
        (_("Måling"), [_("Felt"), _("Værdi")], facts),
        (_("Punkter"), [_("Afsnit"), _("Nr."), _("Punkt"), _("Score (1-5)") if scale.version_id == fidelity.ips25_version_id()
                        else _("Score"), _("Kommentar")], items),
    ])
    filename = f"fidelitet-{review.municipality.code_str}-{review.review_date.isoformat()}.xlsx"
    return download(data, filename, "xlsx")


@bp.route("/kommune/<int:code>/ny", methods=["GET", "POST"])
@write_required
def new(code: int):
    """Record a review for a municipality of the user's region."""
    municipality_ = db.get_or_404(Municipality, code)
    fidelity.ensure_can_review(municipality_, actor=current_user)  # its form only for who may record one
    scale = _chosen_scale()
    form = review_form(scale, region_code=municipality_.region_code)
    if request.method == "GET":
        form.review_date.data = local_today()
    if form.validate_on_submit():
        try:
            review = fidelity.save_review(None, code, form.review_values(), form.ratings(), actor=current_user,
                                          instrument_version_id=scale.version_id)
        except FieldError as error:
            return _render_form(form, municipality_, None, show_error(form, error))
        _flash_saved(review)
        return redirect(url_for(".detail", review_id=review.id))
    return _render_form(form, municipality_, None)


@bp.route("/<int:review_id>/ret", methods=["GET", "POST"])
@write_required
def edit(review_id: int):
    """Edit a review (complete or draft); the total is recomputed from the ratings."""
    review = _review_to_change(review_id)
    form = review_form(fidelity.review_scale(review), region_code=review.municipality.region_code)
    if request.method == "GET":
        form.fill_from(review)
    elif form.validate_on_submit():
        try:
            fidelity.save_review(review, review.municipality_code, form.review_values(), form.ratings(),
                                 form.version.data, actor=current_user)
        except FieldError as error:
            status = show_error(form, error)
            if isinstance(error, Conflict):
                form.version.data = review.version  # the stored one: a deliberate second save goes through
            return _render_form(form, review.municipality, review, status)
        _flash_saved(review)
        return redirect(url_for(".detail", review_id=review.id))
    return _render_form(form, review.municipality, review)


def _render_form(form: ReviewForm, municipality_: Municipality, review, status: int = 200):
    """The record/edit page; a failed POST keeps the user's input and gets status 400."""
    if request.method == "POST" and form.errors and status == 200:
        status = 400
    bands = [{"min": b.min_total, "max": b.max_total, "label": b.label} for b in form.scale.bands]
    weights = {score_field(item): item.weight for item in form.scale.items}
    versions = fidelity.active_versions() if review is None else []
    return render_template("fidelity/form.html", form=form, municipality=municipality_, review=review,
                           bands=bands, weights=weights, scale=form.scale, versions=versions), status


def _flash_saved(review: FidelityReview) -> None:
    """Tell the user the total and band, or which items keep the review a draft."""
    scale = fidelity.review_scale(review)
    if review.total is not None:
        band = scale.band_or_none(review.total)
        flash(_("Målingen er gemt: samlet score %(total)s (%(band)s).", total=review.total,
                band=band.label if band else "–"), "success")
        return
    missing = fidelity.missing_items(review)
    items = ", ".join(f"{i.section_label} {i.number}" for i in missing)
    if len(scale.items) == 25:
        flash(ngettext("Målingen er gemt som kladde: %(num)s af 25 punkter mangler en score (%(items)s). "
                       "En kladde har ingen samlet score og tæller ikke med.",
                       "Målingen er gemt som kladde: %(num)s af 25 punkter mangler en score (%(items)s). "
                       "En kladde har ingen samlet score og tæller ikke med.",
                       len(missing), items=items), "warning")
        return
    flash(ngettext("Målingen er gemt som kladde: %(num)s punkt mangler en score (%(items)s). "
                   "En kladde har ingen samlet score og tæller ikke med.",
                   "Målingen er gemt som kladde: %(num)s punkter mangler en score (%(items)s). "
                   "En kladde har ingen samlet score og tæller ikke med.",
                   len(missing), items=items), "warning")


@bp.route("/<int:review_id>/slet", methods=["POST"])
@write_required
def delete(review_id: int):
    """Delete a review (POST only)."""
    review = _review_to_change(review_id)
    if not EmptyForm().validate_on_submit():
        flash(_("Formularen var udløbet. Prøv igen."), "warning")
        return redirect(url_for(".detail", review_id=review.id))
    code = review.municipality_code
    fidelity.delete_review(review, actor=current_user)
    flash(_("Målingen er slettet."), "success")
    return redirect(url_for(".municipality", code=code))
