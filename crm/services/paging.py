"""One page of a list built without a paginated query, in the shape of Flask-SQLAlchemy's ``Pagination``.

A list read with ``db.paginate`` is already such a page. A list put together otherwise (a report's
drill-down counted with its sums, a municipality's timeline merged from several tables) becomes a
``Page`` with the same attributes, so ``templates/macros.html``'s ``pagination`` macro renders
either. A page whose list is not counted (``total`` None) knows only whether another follows.

``paginate`` pages a query without counting all of it: the page's rows and one more (is there a
next page?), and a count that stops after ``COUNT_LIMIT`` rows, so a long list costs what a page
shows, not what the whole filter matches ("mere end 1.000" beyond that).
"""
from dataclasses import dataclass, field
from math import ceil
from typing import Iterator, Optional

from sqlalchemy import Select, func, literal_column, select

from crm.extensions import db

COUNT_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    """``items`` on page ``page`` (from 1) of ``per_page``; ``total`` None when not counted, then
    ``more`` tells whether a next page exists."""

    items: list = field(default_factory=list)
    page: int = 1
    per_page: int = 1
    total: Optional[int] = None
    more: bool = False
    # When not counted: the list is known to hold more than this many items (None: unknown).
    more_than: Optional[int] = None

    @property
    def pages(self) -> Optional[int]:
        """How many pages there are (0 for an empty list, as Flask-SQLAlchemy); None when not counted."""
        return None if self.total is None else ceil(self.total / self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.more if self.total is None else self.page < self.pages

    @property
    def prev_num(self) -> Optional[int]:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> Optional[int]:
        return self.page + 1 if self.has_next else None

    def iter_pages(self, *, left_edge: int = 2, left_current: int = 2, right_current: int = 4,
                   right_edge: int = 2) -> Iterator[Optional[int]]:
        """Page numbers for the links, None where a run is skipped: the window Flask-SQLAlchemy's
        ``Pagination.iter_pages`` yields (20 pages, page 7: 1, 2, None, 5…11, None, 19, 20).
        Nothing when the list is not counted."""
        last = self.pages or 0
        shown = set(range(1, min(left_edge, last) + 1))
        shown |= set(range(max(1, self.page - left_current), min(self.page + right_current, last) + 1))
        shown |= set(range(max(1, last - right_edge + 1), last + 1))
        previous = 0
        for number in sorted(shown):
            if number > previous + 1:
                yield None
            yield number
            previous = number


def paginate(query: Select, page: int, per_page: int, *, count_limit: Optional[int] = None,
             rows: bool = False) -> Page:
    """Page ``page`` (from 1; below 1 means 1) of ``query`` (ordered, with its loader options) in
    two statements whatever the list's length: the page's rows plus one, and a count of at most
    ``count_limit`` + 1 rows. ``total`` is exact up to ``count_limit``; beyond it the page is
    uncounted (``total`` None, ``more_than`` = ``count_limit``) and links only to its neighbours.
    A page past the end is empty, as ``db.paginate(..., error_out=False)``. ``rows``: the items
    are the query's rows (a select of columns), not its first column's values (entities)."""
    page = max(1, page)
    count_limit = COUNT_LIMIT if count_limit is None else count_limit
    window = query.limit(per_page + 1).offset((page - 1) * per_page)
    items = list(db.session.execute(window).all() if rows else db.session.scalars(window))
    capped = (query.with_only_columns(literal_column("1"), maintain_column_froms=True)
              .order_by(None).limit(count_limit + 1).subquery())
    counted = db.session.scalar(select(func.count()).select_from(capped)) or 0
    if counted > count_limit:
        return Page(items[:per_page], page, per_page, None, more=len(items) > per_page, more_than=count_limit)
    return Page(items[:per_page], page, per_page, counted)
