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
