"""One pagination: a page built without a paginated query (crm.services.paging.Page) behaves as
Flask-SQLAlchemy's, and the one macro renders both, accessibly and keeping the list's filters."""
import re

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Municipality
from crm.services.paging import Page

MACRO = "{% from 'macros.html' import pagination %}"


@pytest.mark.parametrize("per_page", [1, 4, 25, 200])
def test_a_page_has_the_attributes_and_links_of_flask_sqlalchemys(app, per_page):
    query = select(Municipality).order_by(Municipality.code)
    total = db.session.scalar(select(func.count(Municipality.code)))
    for number in range(1, -(-total // per_page) + 1):
        expected = db.paginate(query, page=number, per_page=per_page, max_per_page=per_page, error_out=False)
        page = Page(list(expected.items), number, per_page, total)
        for name in ("pages", "has_prev", "has_next", "prev_num", "next_num"):
            assert getattr(page, name) == getattr(expected, name), (name, number)
        assert list(page.iter_pages()) == list(expected.iter_pages()), number


def test_an_uncounted_page_knows_only_whether_another_follows():
    middle = Page(["x"], 3, 1, more=True)
    assert (middle.pages, middle.has_prev, middle.has_next, middle.prev_num, middle.next_num) == (None, True, True, 2, 4)
    assert list(middle.iter_pages()) == []
    last = Page([], 4, 1, more=False)
    assert (last.has_next, last.next_num) == (False, None)


def _links(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<a class="page-link"[^>]*href="([^"]+)"[^>]*>([^<]+)</a>', html)


def test_the_macro_numbers_a_counted_list_and_keeps_the_filters(app):
    with app.test_request_context():
        html = render_template_string(MACRO + "{{ pagination(page, 'activities.index', {'region': '1084'}) }}",
                                      page=Page(list(range(10)), 7, 10, 200))
    assert '<nav aria-label="Sider">' in html
    numbers = [label for _href, label in _links(html)]
    assert numbers == ["Forrige", "1", "2", "5", "6", "7", "8", "9", "10", "11", "19", "20", "Næste"]
    assert html.count("…") == 2
    assert re.search(r'href="/aktiviteter/\?region=1084&amp;page=7" aria-current="page">7<', html)
    assert all("region=1084" in href for href, _label in _links(html))


def test_the_macro_gives_an_uncounted_list_its_labels_and_fragment(app):
    template = MACRO + ("{{ pagination(page, 'municipalities.detail', {'code': 101}, param='side', "
                        "fragment='#tidslinje', label='Tidslinjens sider', prev_label='« Nyere', "
                        "next_label='Ældre »') }}")
    with app.test_request_context():
        html = render_template_string(template, page=Page([], 2, 25, more=True))
        alone = render_template_string(template, page=Page([], 1, 25, more=False))
    assert '<nav aria-label="Tidslinjens sider">' in html
    assert _links(html) == [("/kommuner/101?side=1#tidslinje", "« Nyere"), ("/kommuner/101?side=3#tidslinje", "Ældre »")]
    assert 'aria-current="page">Side 2<' in html
    assert alone.strip() == ""  # one page: no page links at all


def _activities(n: int) -> None:
    from datetime import date, datetime, timedelta

    from crm.models import Activity

    if n:
        db.session.execute(Activity.__table__.insert(), [
            {"type": "workshop", "title": f"A{i}", "start_date": date(2025, 1, 1) + timedelta(days=i),
             "region_code": 1084, "version": 1, "created_at": datetime(2025, 1, 1)} for i in range(n)])
        db.session.commit()


@pytest.mark.parametrize("n", [0, 7, 10, 11, 25])
def test_paginate_counts_a_short_list_exactly_and_a_long_one_not_at_all(app, n):
    from crm.models import Activity
    from crm.services.paging import paginate

    _activities(n)
    query = select(Activity).order_by(Activity.start_date.desc(), Activity.id.desc())
    for number in range(1, max(1, -(-n // 5)) + 2):
        expected = db.paginate(query, page=number, per_page=5, max_per_page=5, error_out=False)
        page = paginate(query, number, 5, count_limit=10)
        if n <= 10:
            assert (page.total, page.pages, page.has_next, page.more_than) == (n, expected.pages, expected.has_next, None)
        else:  # past the limit: uncounted, but the neighbours are right and nothing is lost
            assert (page.total, page.pages, page.has_next, page.more_than) == (None, None, expected.has_next, 10)
        assert [a.id for a in page.items] == [a.id for a in expected.items]


def test_paginate_sends_two_statements_however_long_the_list(app, count_queries):
    from crm.models import Activity
    from crm.services.paging import paginate

    query = select(Activity).order_by(Activity.start_date.desc(), Activity.id.desc())
    with count_queries() as empty:
        paginate(query, 1, 5, count_limit=10)
    _activities(40)
    with count_queries() as long:
        paginate(query, 1, 5, count_limit=10)
    with count_queries() as far:
        paginate(query, 6, 5, count_limit=10)
    assert empty.count == long.count == far.count == 2


def test_a_long_activity_list_says_more_than_instead_of_counting(app, users, login_as, monkeypatch):
    from crm.services import paging
    from crm.views.activities import PER_PAGE

    monkeypatch.setattr(paging, "COUNT_LIMIT", PER_PAGE)
    _activities(PER_PAGE + 1)
    html = login_as(users["admin"]).get("/aktiviteter/").get_data(as_text=True)
    assert f"Mere end {PER_PAGE} aktiviteter" in html
    assert f"Side 1 · mere end {PER_PAGE} aktiviteter" in html
    assert 'rel="next"' in html
    last = login_as(users["admin"]).get("/aktiviteter/?page=2").get_data(as_text=True)
    assert 'rel="prev"' in last and 'rel="next"' not in last
