"""The map of Denmark as SVG path strings, projected once per process from the bundled GeoJSON.

Drawing, so on the web side: the services say which stage each municipality is in on a date
(``crm.services.dashboard``); this module turns that into shapes, fills and markup.

The municipality boundaries never change while the app runs, so ``map_geometry()`` reads
``crm/data/municipalities.geojson`` once and caches the projected paths, and the markup that does
not change (the escaped outlines, the inset frame) is built once too. Drawing a map is then only a
matter of putting each municipality's stage, fill, title and link around its outline
(``shapes_markup``), a few string joins instead of some 50 template operations per municipality.

Projection: equirectangular, longitude scaled by cos(56°) so Denmark is not squashed sideways.
Bornholm (code 400) lies far to the east; as on Danish maps it is drawn at the same scale in an
inset box in the top-right corner, where the Kattegat leaves room.
"""
import json
import math
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Iterable, Mapping, NamedTuple, Optional

from markupsafe import Markup, escape

from crm.services.reference import DATA_DIR

GEOJSON_FILE = DATA_DIR / "municipalities.geojson"
BORNHOLM = 400
SCALE = 200.0  # SVG units per degree of latitude
PADDING = 10.0
INSET_PADDING = 8.0
LON_FACTOR = math.cos(math.radians(56))

# Fills per stage. Covered stages also get a hatch pattern (see templates/dashboard/_map_defs.html)
# so the map reads without colour; "paused" gets dots so it does not look like "not contacted".
STAGE_FILLS: dict[str, str] = {
    "not_contacted": "#ced4da",
    "dialogue": "#9ec5fe",
    "plan_in_progress": "#ffcd39",
    "plan_signed": "url(#pattern-plan_signed)",
    "in_operation": "url(#pattern-in_operation)",
    "paused": "url(#pattern-paused)",
}
STAGE_BASE_COLOURS: dict[str, str] = {
    "not_contacted": "#ced4da",
    "dialogue": "#9ec5fe",
    "plan_in_progress": "#ffcd39",
    "plan_signed": "#198754",
    "in_operation": "#0f5132",
    "paused": "#f1aeb5",
}


@dataclass(frozen=True)
class Shape:
    """One municipality's outline as an SVG path ``d`` string."""

    code: int
    name: str
    region_code: int
    path: str


@dataclass(frozen=True)
class InsetBox:
    """The frame Bornholm is drawn in."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class MapGeometry:
    """Everything needed to draw the map: size, shapes in code order, the inset, attribution."""

    width: float
    height: float
    shapes: tuple[Shape, ...]
    inset: InsetBox
    attribution: str

    @property
    def view_box(self) -> str:
        """The SVG viewBox attribute."""
        return f"0 0 {self.width:.0f} {self.height:.0f}"


@dataclass(frozen=True)
class _Bounds:
    """A bounding box in degrees."""
    min_lon: float
    max_lon: float
    min_lat: float
    max_lat: float


def _points(features: Iterable[dict]) -> Iterable[tuple[float, float]]:
    """Every (lon, lat) of the given features' MultiPolygons."""
    for feature in features:
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                for lon, lat in ring:
                    yield lon, lat


def _bounds(features: list[dict]) -> _Bounds:
    """Bounding box in degrees."""
    lons, lats = zip(*_points(features))
    return _Bounds(min(lons), max(lons), min(lats), max(lats))


def _path(geometry: dict, offset_x: float, offset_y: float, origin: _Bounds) -> str:
    """A MultiPolygon as one path string: one ``M…Z`` per ring, one decimal, repeated points dropped."""
    parts = []
    for polygon in geometry["coordinates"]:
        for ring in polygon:
            coords: list[str] = []
            for lon, lat in ring:
                x = offset_x + (lon - origin.min_lon) * LON_FACTOR * SCALE
                y = offset_y + (origin.max_lat - lat) * SCALE
                point = f"{x:.1f},{y:.1f}"
                if not coords or coords[-1] != point:
                    coords.append(point)
            if len(coords) > 1 and coords[-1] == coords[0]:
                coords.pop()  # "Z" closes the ring; the repeated first point is not needed
            if len(coords) >= 3:
                parts.append("M" + " ".join(coords) + "Z")
    return "".join(parts)


def _width(bounds: _Bounds) -> float:
    """Projected width of a bounding box in SVG units."""
    return (bounds.max_lon - bounds.min_lon) * LON_FACTOR * SCALE


def _height(bounds: _Bounds) -> float:
    """Projected height of a bounding box in SVG units."""
    return (bounds.max_lat - bounds.min_lat) * SCALE


def build_geometry(data: dict) -> MapGeometry:
    """Project a GeoJSON FeatureCollection (properties code, name, region_code) to a MapGeometry."""
    features = data["features"]
    main = [f for f in features if int(f["properties"]["code"]) != BORNHOLM]
    island = [f for f in features if int(f["properties"]["code"]) == BORNHOLM]
    main_bounds = _bounds(main)
    width = _width(main_bounds) + 2 * PADDING
    height = _height(main_bounds) + 2 * PADDING
    inset = InsetBox(width - PADDING, PADDING, 0.0, 0.0)
    island_bounds: Optional[_Bounds] = _bounds(island) if island else None
    if island_bounds is not None:
        box_w = _width(island_bounds) + 2 * INSET_PADDING
        box_h = _height(island_bounds) + 2 * INSET_PADDING
        inset = InsetBox(width - PADDING - box_w, PADDING, box_w, box_h)
    shapes = []
    for feature in sorted(features, key=lambda f: int(f["properties"]["code"])):
        props = feature["properties"]
        code = int(props["code"])
        if code == BORNHOLM and island_bounds is not None:
            path = _path(feature["geometry"], inset.x + INSET_PADDING, inset.y + INSET_PADDING, island_bounds)
        else:
            path = _path(feature["geometry"], PADDING, PADDING, main_bounds)
        shapes.append(Shape(code, props["name"], int(props["region_code"]), path))
    return MapGeometry(round(width), round(height), tuple(shapes), inset, data.get("attribution", ""))


@lru_cache(maxsize=1)
def map_geometry() -> MapGeometry:
    """The projected map, read from disk on first use and cached for the life of the process."""
    with open(GEOJSON_FILE, encoding="utf-8") as handle:
        return build_geometry(json.load(handle))


class ShapeState(NamedTuple):
    """What one municipality shows on a map drawn now: its stage, the text after its name in its
    title (plain text or Markup) and, on the dashboard, the link to its page."""

    stage: str
    status: str
    href: Optional[str] = None


# Fills of the anchoring layer (/overblik/forankring) per score band, key "none" without applicable items.
ANCHORING_FILLS: dict[str, str] = {
    "none": "#ced4da",
    "low": "#f1aeb5",
    "some": "#ffcd39",
    "half": "#75b798",
    "most": "#0f5132",
}


def shapes_markup(states: Mapping[int, ShapeState], fills: Mapping[str, str] = STAGE_FILLS) -> Markup:
    """Bornholm's inset frame and every municipality as SVG, coloured by ``states`` (by code) and
    titled "<name>: <status>".

    A municipality with a link is ``<a href class="dk-muni"><title/><path/></a>`` (the title is
    what hover and keyboard focus show); without one it is a white-edged ``<path>`` holding its
    title, as in the downloadable file. ``fills``: the fill per ``state.stage`` (the stage map's by
    default; the anchoring layer passes its score bands).
    """
    parts = [_inset_markup()]
    for code, name, outline in _outlines():
        state = states[code]
        stage, fill = escape(state.stage), fills.get(state.stage, "")
        title = f"{name}: {escape(state.status)}"
        if state.href:
            parts.append(f'<a href="{escape(state.href)}" class="dk-muni"><title>{title}</title>'
                         f'<path data-code="{code}" data-stage="{stage}" fill="{fill}"{outline}/></a>')
        else:
            parts.append(f'<path data-code="{code}" data-stage="{stage}" fill="{fill}" stroke="#ffffff" '
                         f'stroke-width="0.6" stroke-linejoin="round"{outline}><title>{title}</title></path>')
    return Markup("\n".join(parts))  # nosec B704: every value above is escaped or a number


@cache
def _outlines() -> tuple[tuple[int, Markup, str], ...]:
    """Each shape's code, escaped name and ``d`` attribute, in code order (built once per process)."""
    return tuple((shape.code, escape(shape.name), f' d="{escape(shape.path)}"') for shape in map_geometry().shapes)


@cache
def _inset_markup() -> str:
    """The frame around Bornholm's inset (built once per process)."""
    inset = map_geometry().inset
    return (f'<rect class="dk-inset" x="{inset.x:.1f}" y="{inset.y:.1f}" width="{inset.width:.1f}" '
            f'height="{inset.height:.1f}" fill="none" stroke="#6c757d" stroke-width="0.8"/>')


def wrap_text(text: str, width: int = 95) -> list[str]:
    """Split ``text`` into lines of at most ``width`` characters at spaces (SVG has no wrapping)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    return lines
