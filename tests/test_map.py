"""The map of Denmark: every municipality drawn once (islands and Bornholm too), projected once per
process, each shape coloured by its stage with a title and a link; the standalone SVG download."""
import json
import re
from datetime import date
from xml.etree import ElementTree

import pytest

from crm.clock import local_today
from crm.views import svgmap
from crm.services.reference import read_csv
from tests.factories import StageChangeFactory

ISLANDS = {825: "Læsø", 741: "Samsø", 563: "Fanø", 492: "Ærø", 400: "Bornholm"}
SVG = "{http://www.w3.org/2000/svg}"


def _numbers(path: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", path)]


def test_geometry_has_every_municipality_once():
    geometry = svgmap.map_geometry()
    codes = [s.code for s in geometry.shapes]
    assert len(codes) == len(set(codes)) == 98
    assert set(codes) == {int(row["code"]) for row in read_csv("municipalities.csv")}
    assert all(s.path.startswith("M") and s.path.endswith("Z") for s in geometry.shapes)
    names = {s.code: s.name for s in geometry.shapes}
    assert {code: names[code] for code in ISLANDS} == ISLANDS


def test_geometry_is_read_once_and_cached(monkeypatch):
    first = svgmap.map_geometry()

    def fail(*args, **kwargs):
        raise AssertionError("the GeoJSON must not be read again")

    monkeypatch.setattr(svgmap, "open", fail, raising=False)
    assert svgmap.map_geometry() is first


def test_projection_keeps_denmark_in_proportion_and_bornholm_in_its_inset():
    geometry = svgmap.map_geometry()
    # Equirectangular scaled by cos(56°): Denmark (without Bornholm) is a little taller than wide.
    assert 0.75 < geometry.width / geometry.height < 0.9
    inset = geometry.inset
    assert inset.x + inset.width <= geometry.width and inset.y >= 0
    assert inset.x > geometry.width * 0.75 and inset.y + inset.height < geometry.height * 0.2  # top-right corner
    for shape in geometry.shapes:
        points = _numbers(shape.path)
        assert all(0 <= x <= geometry.width and 0 <= y <= geometry.height for x, y in points), shape.name
        inside = [inset.x <= x <= inset.x + inset.width and inset.y <= y <= inset.y + inset.height for x, y in points]
        if shape.code == 400:
            assert all(inside)
        else:
            assert not any(inside), f"{shape.name} overlaps Bornholm's inset"


def test_north_is_up_and_west_is_left():
    shapes = {s.code: _numbers(s.path) for s in svgmap.map_geometry().shapes}
    centre = {code: (sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)) for code, pts in shapes.items()}
    assert centre[813][1] < centre[101][1]  # Frederikshavn north of København
    assert centre[561][0] < centre[101][0]  # Esbjerg west of København


def test_build_geometry_from_minimal_geojson():
    square = {"type": "MultiPolygon", "coordinates": [[[[10, 56], [11, 56], [11, 57], [10, 57], [10, 56]]]]}
    island = {"type": "MultiPolygon", "coordinates": [[[[15, 55], [15.1, 55], [15.1, 55.1], [15, 55]]]]}
    data = {"attribution": "Kilde", "features": [
        {"properties": {"code": "101", "name": "A", "region_code": "1084"}, "geometry": square},
        {"properties": {"code": "400", "name": "Bornholm", "region_code": "1084"}, "geometry": island},
    ]}
    geometry = svgmap.build_geometry(data)
    assert geometry.attribution == "Kilde"
    assert round(geometry.height) == 200 + 2 * svgmap.PADDING
    assert round(geometry.width) == round(200 * svgmap.LON_FACTOR + 2 * svgmap.PADDING)
    assert geometry.shapes[0].path == "M10.0,210.0 121.8,210.0 121.8,10.0 10.0,10.0Z"


def test_shapes_markup_fills_the_cached_outlines_per_map():
    geometry = svgmap.map_geometry()
    assert svgmap._outlines() is svgmap._outlines()  # escaped once per process
    states = {s.code: svgmap.ShapeState("not_contacted", "x") for s in geometry.shapes}
    states[101] = svgmap.ShapeState("plan_signed", "a & <b>", "/k/101?a=1&b=2")
    markup = svgmap.shapes_markup(states)
    assert markup.startswith('<rect class="dk-inset" x="')
    assert markup.count("<path ") == 98 and markup.count("<a ") == 1
    assert ('<a href="/k/101?a=1&amp;b=2" class="dk-muni"><title>København: a &amp; &lt;b&gt;</title>'
            '<path data-code="101" data-stage="plan_signed" fill="url(#pattern-plan_signed)" d="M') in markup
    assert ('<path data-code="825" data-stage="not_contacted" fill="#ced4da" stroke="#ffffff" stroke-width="0.6" '
            'stroke-linejoin="round" d="M') in markup and "<title>Læsø: x</title></path>" in markup


def test_wrap_text():
    assert svgmap.wrap_text("aa bb cc dd", 5) == ["aa bb", "cc dd"]
    assert svgmap.wrap_text("", 5) == []


def test_dashboard_map_has_all_98_municipalities_with_stage_title_and_link(app, users, login_as):
    StageChangeFactory(municipality_code=825, stage="plan_signed", effective_date=date(2025, 4, 1))
    StageChangeFactory(municipality_code=400, stage="dialogue", effective_date=date(2025, 2, 3))
    html = login_as(users["working_group"]).get("/overblik/").get_data(as_text=True)
    svg = re.search(r'<svg[^>]*id="dk-map".*?</svg>', html, re.S).group(0)
    codes = re.findall(r'<path data-code="(\d+)"', svg)
    assert len(codes) == len(set(codes)) == 98
    assert ISLANDS.keys() <= {int(c) for c in codes}
    for code in ISLANDS:
        assert re.search(rf'<a href="/kommuner/{code}" class="dk-muni"><title>[^<]+</title><path data-code="{code}"', svg)
    assert "<title>Læsø: Samarbejdsplan underskrevet siden 01-04-2025</title>" in svg
    assert "<title>Bornholm: I dialog siden 03-02-2025</title>" in svg
    assert "<title>Samsø: Ikke kontaktet (ingen fase registreret)</title>" in svg
    assert re.search(r'data-code="825" data-stage="plan_signed" fill="url\(#pattern-plan_signed\)"', svg)
    assert '<pattern id="pattern-plan_signed"' in svg and '<pattern id="pattern-in_operation"' in svg
    attribution = json.load(open(svgmap.GEOJSON_FILE, encoding="utf-8"))["attribution"]
    assert attribution in html
    # Legend: stage names with counts.
    legend = re.search(r'<ul class="list-unstyled map-legend.*?</ul>', html, re.S).group(0)
    assert "Samarbejdsplan underskrevet" in legend and ">1</a>" in legend and ">96</a>" in legend


def test_map_shows_the_past(app, users, login_as):
    StageChangeFactory(municipality_code=741, stage="plan_signed", effective_date=date(2025, 4, 1))
    client = login_as(users["working_group"])
    before = client.get("/overblik/?on=31-03-2025").get_data(as_text=True)
    after = client.get("/overblik/?on=01-04-2025").get_data(as_text=True)
    assert 'data-code="741" data-stage="not_contacted"' in before
    assert 'data-code="741" data-stage="plan_signed"' in after


def test_map_download_is_standalone_svg_with_attribution(app, users, login_as):
    StageChangeFactory(municipality_code=563, stage="in_operation", effective_date=date(2025, 1, 1))
    client = login_as(users["working_group"])
    response = client.get("/overblik/kort.svg?on=2025-06-30")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert 'filename="ips-daekning-2025-06-30.svg"' in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert body.startswith("<?xml")
    root = ElementTree.fromstring(response.data)  # well-formed XML
    assert root.tag == f"{SVG}svg"
    paths = [p for p in root.iter(f"{SVG}path") if p.get("data-code")]
    assert len({p.get("data-code") for p in paths}) == 98
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    assert "Geodatastyrelsen og Danske Kommuner" in text and "DAGI/FOT" in text
    assert "30-06-2025" in text and "1 af 98 kommuner" in text
    assert "IPS i drift: 1 (dækket)" in text
    assert "Bornholm" in text
    assert "<a " not in body  # no links in the file for slides
    assert "<script" not in body


@pytest.mark.parametrize("value", ["nope", "2999-01-01", "31-31-2020"])
def test_map_download_with_bad_date_gives_todays_map(app, users, login_as, value):
    response = login_as(users["working_group"]).get("/overblik/kort.svg", query_string={"on": value})
    assert response.status_code == 200
    assert f"ips-daekning-{local_today().isoformat()}.svg" in response.headers["Content-Disposition"]


def test_map_download_query_count_is_small(app, users, login_as, count_queries):
    client = login_as(users["working_group"])
    client.get("/overblik/kort.svg")
    with count_queries() as q:
        client.get("/overblik/kort.svg")
    assert q.count <= 2
