"""The benchmark machinery works on both databases (not a timed test: nothing here checks speed).

``bench.run`` at 200 activities, two pages, half a second each: a database built, served by
gunicorn, requested under load, SQL counted and timed in process, the slowest statement explained,
and the markdown (tables, targets, plans, README block) rendered with every database measured.
"""
import pytest

from bench import run as bench
from tests.conftest import postgres_base_url

PAGES = {"light page", "municipality page"}
# One worker builds the databases once for both tests (make test runs with --dist loadgroup).
pytestmark = pytest.mark.xdist_group("bench")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    kinds = ["sqlite"] + (["postgresql"] if postgres_base_url() else [])
    tmp = tmp_path_factory.mktemp("bench")
    return [bench.run_size(kind, 200, 0.5, 50, tmp, PAGES) for kind in kinds]


def test_every_page_is_measured_with_its_sql_and_plan(runs):
    for run in runs:
        pages = {p.label: p for p in run["pages"]}
        assert set(pages) == PAGES
        page = pages["municipality page"]
        assert page.requests > 0 and page.errors == 0, run["database"]
        assert page.statements and page.statements > 1
        assert page.sql_ms is not None and 0 < page.sql_ms <= page.inprocess_ms
        assert page.slowest is not None and page.slowest.sql.lstrip().upper().startswith(("SELECT", "WITH"))
        assert page.slowest.plan and not page.slowest.plan.startswith("(no plan")
        if run["database"] == "postgresql":
            assert "actual time=" in page.slowest.plan and "Buffers:" in page.slowest.plan
        assert run["report"]["csv"] > 0 and run["report"]["xlsx"] > 0
        # The ratio's reference: the light page measured in slices alternating with this page.
        assert page.reference is not None and page.reference.requests > 0 and page.reference.url == pages["light page"].url
        assert pages["light page"].reference is None


def test_the_ratio_divides_by_the_light_page_measured_beside_the_page():
    light = bench.PageResult("light page", "/import/", requests=200, seconds=1.0)
    page = bench.PageResult("dashboard", "/overblik/", requests=60, seconds=1.0,
                            reference=bench.PageResult("light page", "/import/", requests=120, seconds=1.0))
    assert bench._ratio(page, [light, page]) == pytest.approx(0.5)
    alone = bench.PageResult("dashboard", "/overblik/", requests=60, seconds=1.0)
    assert bench._ratio(alone, [light, alone]) == pytest.approx(0.3)


def test_markdown_has_every_database_its_targets_and_plans(runs, tmp_path):
    output = bench.render(runs, 0.5, 50)
    block = bench.readme_block(runs, 0.5, 50)
    for run in runs:
        name = bench.NAMES[run["database"]]
        assert f"## {name}, N = 200 activities" in output
        assert f"Targets on {name}" in output and f"### {name}: targets" in block
        plans = bench.render_plans(runs, run["database"])
        assert "## municipality page (`/kommuner/101`)" in plans and "```sql" in plans
    if postgres_base_url():
        assert "EXPLAIN (ANALYZE, BUFFERS)" in bench.render_plans(runs, "postgresql")

    readme = tmp_path / "README.md"
    prose = f"The block between `{bench.README_BEGIN}` and `{bench.README_END}` is written by bench.run.\n"
    readme.write_text(f"{prose}{bench.README_BEGIN}\nold\n{bench.README_END}\nafter\n", encoding="utf-8")
    assert bench.write_readme(block, readme)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(prose + bench.README_BEGIN) and text.endswith(bench.README_END + "\nafter\n")
    assert "\nold\n" not in text and text.count(bench.README_BEGIN) == 2
    (tmp_path / "none.md").write_text(prose, encoding="utf-8")
    assert not bench.write_readme(block, tmp_path / "none.md")


def test_the_report_generation_bench_loads_and_measures_on_both_databases(tmp_path):
    """``python -m bench.report_generation``'s loader and measurement at 300 activities."""
    from bench import report_generation
    from tests.conftest import throwaway_postgres_database

    results = [report_generation._measure(300, f"sqlite:///{tmp_path / 'report.sqlite'}")]
    if postgres_base_url():
        with throwaway_postgres_database(postgres_base_url()) as url:
            results.append(report_generation._measure(300, url))
    for result in results:
        assert result["in_period"] > 0 and result["xlsx"] > 0 and result["figures"] > 0
