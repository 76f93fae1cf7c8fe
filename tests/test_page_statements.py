"""Every page the benchmark measures sends the same number of SQL statements whatever the data
holds (issue 19's "SQL statements per page constant"): counted here on the demo at two sizes,
on both databases, through the benchmark's own page list, signed in as its ambassador."""
from flask import url_for
from sqlalchemy import select

from bench.run import AMBASSADOR, PAGES
from crm.demo import load_demo
from crm.extensions import db
from crm.models import User
from tests.conftest import _reset_data

SIZES = (30, 600)  # activities in the demo's scaled history


def _statements_per_page(app, login_as, count_queries) -> dict[str, int]:
    client = login_as(db.session.scalar(select(User).where(User.email == AMBASSADOR[0])))
    with app.test_request_context():
        urls = {label: url_for(endpoint, **values) for label, endpoint, values in PAGES}
    counts = {}
    for label, url in urls.items():
        assert client.get(url).status_code == 200, url  # warm: the same work as any later request
        with count_queries() as counter:
            assert client.get(url).status_code == 200, url
        counts[label] = counter.count
    return counts


def test_every_page_sends_the_same_statements_at_two_sizes(app, login_as, count_queries):
    by_size = []
    for scale in SIZES:
        _reset_data()
        load_demo(scale=scale)
        db.session.commit()
        by_size.append(_statements_per_page(app, login_as, count_queries))
    assert by_size[0] == by_size[1]
