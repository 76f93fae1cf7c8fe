"""Money is exact (issue 17, acceptance): for random expense sets — random øre amounts, credit notes
(negative) included, up to the largest amount the rules allow — the sums the database computes
(in total, per cost line, per region and for the filters of the expense list) equal the sums
computed here in Python integers, on SQLite and PostgreSQL alike; and every amount survives the
round trip from the form's Danish text to øre and back."""
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from crm.extensions import db
from crm.formatting import MAX_MONEY_ORE, format_money, money_as_typed, parse_money
from crm.models import Expense
from crm.services import expenses
from crm.services.expenses import ExpenseFilter

REGIONS = (1081, 1084, 1085)
AMOUNTS = st.one_of(st.integers(-10**6, 10**6), st.integers(-(MAX_MONEY_ORE - 1), MAX_MONEY_ORE - 1))
EXPENSE = st.tuples(st.sampled_from(REGIONS), st.integers(0, 6), st.integers(0, 730), AMOUNTS.filter(bool))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(EXPENSE, max_size=40), start_day=st.integers(0, 730), region=st.sampled_from(REGIONS))
def test_database_sums_equal_python_sums_exactly(app, cost_lines, rows, start_day, region):
    lines = sorted(cost_lines.values(), key=lambda line: line.id)
    db.session.execute(delete(Expense))
    first = date(2024, 1, 1)
    db.session.add_all([
        Expense(region_code=region_code, spent_on=first + timedelta(days=day), cost_line_id=lines[line].id,
                amount_ore=amount, description="x", voucher=f"V{n}")
        for n, (region_code, line, day, amount) in enumerate(rows)])
    db.session.commit()
    start = first + timedelta(days=start_day)
    assert expenses.total(ExpenseFilter()) == sum(amount for *_rest, amount in rows)
    expected = sum(amount for region_code, _line, day, amount in rows
                   if region_code == region and first + timedelta(days=day) >= start)
    assert expenses.total(ExpenseFilter(region_code=region, start=start)) == expected
    by_line: dict[int, int] = {}
    for _region, line, _day, amount in rows:
        by_line[lines[line].id] = by_line.get(lines[line].id, 0) + amount
    assert expenses.totals_by_cost_line(ExpenseFilter()) == by_line
    per_region = dict(db.session.execute(
        select(Expense.region_code, func.sum(Expense.amount_ore)).group_by(Expense.region_code)).all())
    assert {k: int(v) for k, v in per_region.items()} == {
        r: sum(a for rr, _l, _d, a in rows if rr == r) for r in {rr for rr, *_x in rows}}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ore=AMOUNTS)
def test_every_amount_round_trips_through_danish_text(app, ore):
    with app.test_request_context():
        assert parse_money(money_as_typed(ore)) == ore
        assert parse_money(format_money(ore)) == ore  # the shown form (1.234,50) reads back too
