"""Activity counts and sums per region and type over a date range, answered mostly from the
per-month totals the database keeps (``ActivityMonthTotal``).

A range from ``start`` to ``end`` (inclusive) is split in three: the whole months inside it are
read from the totals (one row per month, region and type), and only the partial months at its
edges are counted from ``activity`` itself (for a half year that ends today, the days of this
month). The three parts go in one statement, UNION ALL then GROUP BY, built once per process with
bound parameters, so a page costs the same statements as before and the work follows the number
of groups, not of activities. The result equals a plain GROUP BY over ``activity``: a national
activity has region NULL, and a group whose participants (hours) are all unknown sums to NULL.
"""
from datetime import date, timedelta

from sqlalchemy import BigInteger, Date, Integer, Select, bindparam, case, cast, func, select, union_all

from crm.formatting import month_end
from crm.models import Activity, ActivityMonthTotal

DAY = timedelta(days=1)


def range_parameters(start: date, end: date, suffix: str = "") -> dict[str, date]:
    """Bound values for ``range_branches(suffix)``: the head (first partial month), the whole
    months ``[first_month, end_month)`` and the tail (last partial month) of ``start``–``end``.
    An empty part is given as a range that matches nothing."""
    first_month = start if start.day == 1 else month_end(start.year, start.month) + DAY
    end_month = (end + DAY).replace(day=1)
    if first_month >= end_month:  # no whole month inside: scan it all, the totals give nothing
        head, tail, first_month, end_month = (start, end), (start, start - DAY), first_month, first_month
    else:
        head, tail = (start, first_month - DAY), (end_month, end)
    return {f"head_start{suffix}": head[0], f"head_end{suffix}": head[1],
            f"first_month{suffix}": first_month, f"end_month{suffix}": end_month,
            f"tail_start{suffix}": tail[0], f"tail_end{suffix}": tail[1]}


def _date(name: str):
    return bindparam(name, type_=Date)


def _scan(part: str, suffix: str, types, sums: bool, tags: tuple) -> Select:
    """Counts (and sums) straight from ``activity`` for one partial month."""
    columns = [Activity.region_code.label("region_code"), Activity.type.label("type"), *tags,
               func.count().label("activities")]
    if sums:
        columns += [func.sum(Activity.participants).label("participants"), func.sum(Activity.hours).label("hours")]
    query = select(*columns).where(Activity.start_date >= _date(f"{part}_start{suffix}"),
                                   Activity.start_date <= _date(f"{part}_end{suffix}"))
    if types is not None:
        query = query.where(Activity.type.in_(types))
    return query.group_by(Activity.region_code, Activity.type)


def _months(suffix: str, types, sums: bool, tags: tuple) -> Select:
    """The whole months' rows of the totals, region 0 back to NULL, an all-unknown sum as NULL."""
    total = ActivityMonthTotal
    columns = [func.nullif(total.region_key, 0).label("region_code"), total.type.label("type"), *tags,
               total.activities.label("activities")]
    if sums:
        columns += [case((total.participants_known > 0, total.participants)).label("participants"),
                    case((total.hours_known > 0, total.hours)).label("hours")]
    query = select(*columns).where(total.month >= _date(f"first_month{suffix}"),
                                   total.month < _date(f"end_month{suffix}"),
                                   total.activities > 0)  # a group emptied by deletes is no group
    if types is not None:
        query = query.where(total.type.in_(types))
    return query


def range_branches(suffix: str = "", types: tuple[str, ...] | None = None, sums: bool = False,
                   tags: tuple = ()) -> list[Select]:
    """The three parts of a range (parameters from ``range_parameters(..., suffix)``), each giving
    region_code, type, ``tags`` (constant columns, e.g. which half year), activities and, with
    ``sums``, participants and hours; only activities of ``types`` if given."""
    return [_scan("head", suffix, types, sums, tags), _months(suffix, types, sums, tags),
            _scan("tail", suffix, types, sums, tags)]


def grouped_totals(branches: list[Select], tags: tuple[str, ...] = (), sums: bool = False) -> Select:
    """One row per region_code, type and tag over all ``branches``: activities (an int, as count()
    gives), and with ``sums`` participants (int or NULL) and hours (numeric or NULL)."""
    parts = union_all(*branches).subquery()
    keys = [parts.c.region_code, parts.c.type, *(parts.c[tag] for tag in tags)]
    columns = [*keys, cast(func.sum(parts.c.activities), Integer).label("activities")]
    if sums:
        columns += [cast(func.sum(parts.c.participants), BigInteger).label("participants"),
                    func.sum(parts.c.hours, type_=Activity.hours.type).label("hours")]
    return select(*columns).group_by(*keys)
