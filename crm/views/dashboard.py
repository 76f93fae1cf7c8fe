"""Nationalt overblik: coverage toward the target on a map of Denmark, the trend, the stage funnel
and the activity overview, for any as-of date. Read-only for everyone; no write routes.

All figures come from ``crm.services.dashboard``; this module parses the date, builds the links
to the records behind each figure and renders. The map is also offered as a standalone SVG.

The page has some 270 links and 98 map shapes, so the repeated parts are prepared here rather
than in template loops: the links come from ``Links``, the map's markup from
``crm.views.svgmap.shapes_markup``, and the tables get their cells ready made.
"""
from datetime import date
from typing import NamedTuple, Optional

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import format_date as babel_format_date
from markupsafe import Markup, escape
from crm.clock import local_today
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.i18n import ngettext
from wtforms import Form
from wtforms.validators import Optional as OptionalValue

from crm.views.forms import DanishDateField
from crm.models import COVERED_STAGES, DEFAULT_STAGE, STAGES, TRACKS
from crm.views.access import read_required
from crm.views.page_cache import cached_page
from crm.views.charts import line_chart
from crm.views.files import send_bytes
from crm.templating import PathUrls
from crm.views.helpers import QueryUrls
from crm.services import anchoring
from crm.services import measurement_coverage
from crm.services import dashboard as service
from crm.services.activities import NATIONAL as NATIONAL_ACTIVITIES  # filter value: no region
from crm.services.stages import StageOnDate
from crm.views.svgmap import (ANCHORING_FILLS, STAGE_BASE_COLOURS, STAGE_FILLS, ShapeState, map_geometry, shapes_markup,
                              wrap_text)
from crm.formatting import format_date, number_formatter, percent_formatter

bp = Blueprint("dashboard", __name__, url_prefix="/overblik")

EARLIEST_DATE = date(2000, 1, 1)


class AsOfForm(Form):
    """The as-of date (GET, so no CSRF): 23-11-2026 or 2026-11-23; empty means today."""

    on = DanishDateField(_l("Vis status pr."), validators=[OptionalValue()])


def _as_of(today: date) -> tuple[AsOfForm, date]:
    """The date asked for with ``?on=``; a bad, future or too early date shows an error on the
    field and falls back to today (never a 500)."""
    form = AsOfForm(request.args)
    if not form.validate() or form.on.data is None:
        return form, today
    if form.on.data > today:
        form.on.errors.append(_("Datoen kan ikke ligge efter i dag."))
        return form, today
    if form.on.data < EARLIEST_DATE:
        form.on.errors.append(_("Vælg en dato fra 01-01-2000 og frem."))
        return form, today
    return form, form.on.data


def _month_label(day: date) -> str:
    """'jan. 2026' on the x axis, in the user's language."""
    return babel_format_date(day, "MMM yyyy")


def _year_label(day: date) -> str:
    """'2026' on the small charts' x axis (their ticks fall on 1 January)."""
    return str(day.year) if day.month == 1 else babel_format_date(day, "MMM")


def _dashboard(on: date) -> service.Dashboard:
    """Everything on the page for ``on``, with the settings from the configuration."""
    return service.build_dashboard(
        on, current_app.config["COVERAGE_TARGET_FRACTION"], current_app.config["PROGRAMME_END"],
        national_name=_("Hele landet"),
    )


class Links:
    """URLs to the records behind each figure (some 270 a page, built through ``QueryUrls``)."""

    def __init__(self, on: date, today: date):
        """Links for a page showing ``on``; today's stage counts link to the live list."""
        self.on = on
        self.today = today
        self.url = QueryUrls()
        self.path = PathUrls()
        self._periods: dict[tuple[date, date], str] = {}
        self._filters: dict[tuple, str] = {}

    def covered(self, region_code=None, on: Optional[date] = None) -> str:
        """The covered municipalities on a date: the status report's list of exactly those."""
        return self._report("municipalities_covered_at_end", region_code, on or self.on)

    def stage(self, stage: str, region_code=None, on: Optional[date] = None) -> str:
        """Municipalities in ``stage``: today the municipality list, earlier the report's list."""
        on = on or self.on
        if on == self.today:
            return self.url("municipalities.index", stage=stage, region=region_code)
        return self._report(f"stage_{stage}_at_end", region_code, on)

    def region(self, region_code=None) -> str:
        """All municipalities (of a region)."""
        return self.url("municipalities.index", region=region_code)

    def activities(self, region_code, track: Optional[int], start: date, end: date) -> str:
        """The activities counted in one cell of the overview. The 84 cells are two periods times
        42 (region, track) filters, so each period's URL and each filter's query are built once
        (by ``QueryUrls``) and joined, in url_for's order: dates first."""
        period = self._periods.get((start, end))
        if period is None:
            period = self._periods[(start, end)] = self.url(
                "activities.index", date_from=start.isoformat(), date_to=end.isoformat())
        filters = self._filters.get((region_code, track))
        if filters is None:
            filters = self._filters[(region_code, track)] = self._activity_filters(region_code, track)
        return f"{period}&{filters}" if filters else period

    def _activity_filters(self, region_code, track: Optional[int]) -> str:
        """The query string (without "?") that limits the activities to a region and track."""
        args: dict = {}
        if region_code != service.ALL_REGIONS:
            args["region"] = NATIONAL_ACTIVITIES if region_code is None else region_code
        if track == service.OTHER_TRACK:
            args["type"] = "other"
        elif track is not None:
            args["track"] = track
        return self.url("activities.index", **args).partition("?")[2]

    def municipality(self, code: int) -> str:
        """One municipality's page."""
        return self.path("municipalities.detail", code=code)

    def fidelity(self, code: int) -> str:
        """One municipality's fidelity reviews (some 40 a page in the measurement list)."""
        return self.path("fidelity.municipality", code=code)

    def _report(self, metric: str, region_code, on: date) -> str:
        """The status report's list of the records behind ``metric`` on the single day ``on``."""
        return self.url("reports.drilldown", metric=metric, region=region_code or "total",
                        start=on.isoformat(), end=on.isoformat())


class Figure(NamedTuple):
    """A count in a table and the link to the records behind it (None: no such page)."""

    value: int
    url: Optional[str]


def _map_shapes(stages: dict[int, StageOnDate], links: Optional[Links]) -> Markup:
    """The map's municipalities, titled "Læsø: Samarbejdsplan underskrevet siden 01-04-2025" and,
    on the dashboard (``links``), linked to their pages. Translations are looked up once, not once
    per municipality, and like the template's ``_()`` they are not escaped."""
    labels = {code: escape(str(label)) for code, label in STAGES.items()}
    since = " " + _("siden %(date)s")
    never = " (%s)" % _("ingen fase registreret")  # not an f-string: Babel must find the message
    states = {}
    for shape in map_geometry().shapes:
        state = stages.get(shape.code) or StageOnDate(DEFAULT_STAGE, None)
        when = since % {"date": format_date(state.since)} if state.since else never  # dd-mm-yyyy: nothing to escape
        # nosec B704 below: an escaped label, then catalog text and a date
        status = Markup(f"{labels.get(state.stage) or escape(state.stage)}{when}")  # nosec B704
        states[shape.code] = ShapeState(state.stage, status, links.municipality(shape.code) if links else None)
    return shapes_markup(states)


def _map_context(stages: dict, on: date, links: Optional[Links]) -> dict:
    """What the map templates need: geometry, fills, the municipalities' markup."""
    return {
        "geometry": map_geometry(), "fills": STAGE_FILLS, "colours": STAGE_BASE_COLOURS,
        "map_shapes": _map_shapes(stages, links), "on": on, "covered_stages": COVERED_STAGES,
    }


def _activity_table(rows: list[service.ActivityRow], halves: service.HalfYears,
                    links: Links) -> list[tuple[str, Markup]]:
    """The overview's rows: the row's name and its cells (per track, then the total: this half
    year, last half year), each count linked to its activities. 84 linked cells, so they are
    written here rather than by a template loop per cell."""
    table = []
    for row in rows:
        cells = []
        for track, this, last in [*row.cells, (None, row.this_total, row.last_total)]:
            cells.append(_figure_cell(Figure(this, links.activities(row.key, track, halves.this_start,
                                                                     halves.this_end))))
            cells.append(_figure_cell(Figure(last, links.activities(row.key, track, halves.last_start, halves.last_end)),
                                      "text-end text-muted", "link-secondary"))
        table.append((row.name, Markup("".join(cells))))  # nosec B704: _figure_cell escapes
    return table


def _stage_table(data: service.Dashboard, links: Links) -> list[tuple[str, Markup]]:
    """Municipalities per region (rows) and stage (columns), each linked to the list of them
    (not when there are none): the region's name and its cells."""
    table = []
    for region in data.regions:
        counts = data.counts_by_region[region.code]
        cells = [_figure_cell(Figure(counts[code], links.stage(code, region.code) if counts[code] else None))
                 for code in STAGES]
        table.append((region.short_name, Markup("".join(cells))))  # nosec B704: _figure_cell escapes
    return table


def _figure_cell(figure: Figure, cell_class: str = "text-end", link_class: str = "") -> str:
    """One ``<td>`` with a count, linked to the records behind it when there is a page for them."""
    if figure.url is None:
        return f'<td class="{cell_class}">{escape(figure.value)}</td>'
    link_attribute = f' class="{link_class}"' if link_class else ""
    return f'<td class="{cell_class}"><a{link_attribute} href="{escape(figure.url)}">{escape(figure.value)}</a></td>'


def _trend_rows(data: service.Dashboard) -> list[tuple[str, Markup]]:
    """The table behind the curves: each month end's date and its cells (the nation, the target
    line, each region). Ten years of history make some 120 rows of 7 figures, so the cells are
    written here rather than by a template loop per cell."""
    line = data.national_series.target_line
    codes = [region.code for region in data.regions]
    rows = []
    target = number_formatter(1)
    for point in data.trend:
        covered = point.covered
        figures = [covered[service.NATIONAL], target(line.value_on(point.on)),
                   *(covered[code] for code in codes)]
        rows.append((format_date(point.on), _number_cells(figures)))
    return rows


def _number_cells(figures: list) -> Markup:
    """Right-aligned table cells holding ``figures``: counts (ints, nothing to escape) or
    formatted numbers (escaped)."""
    return Markup("".join([f'<td class="text-end">{figure if type(figure) is int else escape(figure)}</td>'
                           for figure in figures]))  # nosec B704: ints and escaped text only


def _quiet_by_region(quiet: list) -> dict:
    """The quiet municipalities (in their order) per region code."""
    by_region: dict = {}
    for municipality, last in quiet:
        by_region.setdefault(municipality.region_code, []).append((municipality, last))
    return by_region


@bp.route("/")
@read_required
@cached_page
def index():
    """The dashboard for today or the date chosen with ``?on=``."""
    today = local_today()
    form, on = _as_of(today)
    data = _dashboard(on)
    links = Links(on, today)
    charts = {
        "national": line_chart(data.national_series, on, 640, 250, _month_label, 6),
        **{s.key: line_chart(s, on, 250, 150, _year_label, 4) for s in data.region_series},
    }
    slider = service.slider_dates(data.first_change, today)
    tracks = _track_columns()
    activity_rows = service.activity_rows(
        data.activities, [(r.code, r.short_name) for r in data.regions] + [(None, _("Landsdækkende"))],
        [number for number, _label in tracks], _("I alt"),
    )
    return render_template(
        "dashboard/index.html", title=_("Nationalt overblik"), data=data, form=form, today=today,
        links=links, charts=charts, tracks=tracks, activity_table=_activity_table(activity_rows, data.halves, links),
        stage_table=_stage_table(data, links), trend_rows=_trend_rows(data),
        quiet_by_region=_quiet_by_region(data.quiet),
        slider=[format_date(d) for d in slider], slider_index=_slider_index(slider, on),
        svg_url=url_for(".map_svg", on=on.isoformat()), **_map_context(data.stages, on, links),
        measurement=measurement_coverage.coverage(on.year, on),
    )


def _slider_index(dates: list[date], on: date) -> int:
    """The slider position for ``on``: the last step on or before it."""
    return max([0] + [i for i, day in enumerate(dates) if day <= on])


def _track_columns() -> list[tuple[int, str]]:
    """The activity overview's columns: the four tracks, then "Andet" (no fixed track)."""
    return [*((number, str(label)) for number, label in TRACKS.items()), (service.OTHER_TRACK, _("Andet"))]


@bp.route("/kort.svg")
@read_required
def map_svg():
    """The map on the chosen date as a standalone SVG file (legend and attribution included),
    for slides; a bad date gives today's map."""
    today = local_today()
    _form, on = _as_of(today)
    state = service.map_state(on, current_app.config["COVERAGE_TARGET_FRACTION"])
    body = render_template(
        "dashboard/map_standalone.svg.html", state=state, attribution_lines=wrap_text(map_geometry().attribution, 100),
        **_map_context(state.stages, on, None),
    )
    return send_bytes(body, f"ips-daekning-{on.isoformat()}.svg", "image/svg+xml")


# --- The anchoring layer -------------------------------------------------------------------------

def anchoring_band(score: anchoring.Score) -> str:
    """The map's band for a score: none applicable, under 25 %, under 50 %, under 75 %, 75 % and up."""
    if not score.applicable:
        return "none"
    share = score.in_place / score.applicable
    return "low" if share < 0.25 else "some" if share < 0.5 else "half" if share < 0.75 else "most"


def anchoring_bands() -> list[tuple[str, str]]:
    """The legend: band key and label, in order."""
    return [("none", _("Ingen punkter gælder")), ("low", _("Under %(pct)s på plads", pct="25 %")),
            ("some", _("%(low)s–%(high)s på plads", low="25", high="49 %")),
            ("half", _("%(low)s–%(high)s på plads", low="50", high="74 %")),
            ("most", _("%(pct)s eller mere på plads", pct="75 %"))]


def _anchoring_shapes(scores: list[anchoring.MunicipalityScore], links: Links) -> Markup:
    """The map's municipalities coloured by anchoring band, titled "Læsø: 4 af 8 punkter på plads"."""
    by_code = {s.code: s for s in scores}
    states, statuses = {}, {}  # a handful of distinct scores: each one's text looked up once
    for shape in map_geometry().shapes:
        found = by_code.get(shape.code)
        score = found.score if found else anchoring.Score(0, 0)
        status = statuses.get(score)
        if status is None:
            status = statuses[score] = ngettext("%(num)s af %(total)s punkt på plads",
                                                "%(num)s af %(total)s punkter på plads",
                                                score.in_place, total=score.applicable)
        states[shape.code] = ShapeState(anchoring_band(score), status, links.municipality(shape.code))
    return shapes_markup(states, ANCHORING_FILLS)


def _score_rows(scores: list[anchoring.MunicipalityScore], regions: dict, links: Links,
                with_signed: bool) -> Markup:
    """The anchoring layer's municipality tables (all 98, and the weakly anchored): name linked
    to its anchoring checklist, region, signed plan (``with_signed``), "4 af 8", score. Written
    here, each translation and format looked up once, not by a template loop per cell."""
    of_total, percent = _("%(num)s af %(total)s"), percent_formatter()
    yes, no = escape(_("Ja")), escape(_("Nej"))  # outside the f-string, where Babel finds them
    signed = {True: f"<td>{yes}</td>", False: f"<td>{no}</td>"}
    region_cells = {code: f"<td>{escape(region.short_name)}</td>" for code, region in regions.items()}
    rows = [
        f'<tr><td><a href="{escape(links.municipality(m.code))}#forankring">{escape(m.name)}</a></td>'
        f'{region_cells[m.region_code]}{signed[m.signed] if with_signed else ""}'
        f'<td class="text-end">{escape(of_total % {"num": m.score.in_place, "total": m.score.applicable})}</td>'
        f'<td class="text-end">{escape(percent(m.score.pct))}</td></tr>'
        for m in scores]
    return Markup("".join(rows))  # nosec B704: every part escaped above


@bp.route("/forankring")
@read_required
@cached_page
def anchoring_layer():
    """The anchoring layer: each municipality's and region's anchoring score on the chosen date,
    the map coloured by it and the municipalities with a signed plan but weak anchoring."""
    today = local_today()
    form, on = _as_of(today)
    scores = anchoring.municipality_scores(on)
    regions = anchoring.region_scores(on, scores)
    weak = anchoring.weakly_anchored(on, scores=scores)
    slider = service.slider_dates(anchoring.first_date(), today)
    bands: dict[str, int] = {}
    for score in scores:
        bands[anchoring_band(score.score)] = bands.get(anchoring_band(score.score), 0) + 1
    links = Links(on, today)
    return render_template(
        "dashboard/anchoring.html", title=_("Forankring"), form=form, on=on, today=today, scores=scores,
        region_scores=regions, national=anchoring.national_score(regions), weak=weak,
        bands=anchoring_bands(), band_counts=bands, fills=ANCHORING_FILLS, geometry=map_geometry(),
        map_shapes=_anchoring_shapes(scores, links), all_rows=_score_rows(scores, regions, links, with_signed=True),
        weak_rows=_score_rows(weak, regions, links, with_signed=False),
        slider=[format_date(d) for d in slider], slider_index=_slider_index(slider, on),
    )
