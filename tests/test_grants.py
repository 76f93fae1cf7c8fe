"""The grant side (issue 17, items 1–2): money typed the Danish way into exact øre, cost lines, grants,
budget versions (drafts, STAR's approval, revisions, differences, the approved budget), expenses
through the one write funnel, the region rule for every write, forms and the expense list."""
from datetime import date

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.formatting import NumberError, format_money, money_as_typed, parse_money
from crm.models import BudgetVersion, CostLine, Expense, Grant
from crm.services import budgets, expenses
from crm.services.errors import Conflict, FieldError, Forbidden
from tests import factories

A, B = 1084, 1085


# --- Money ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, ore", [
    ("1.234,50", 123450), ("1234,50", 123450), ("1234,5", 123450), ("1234.5", 123450), ("1 234,50", 123450),
    ("1.234", 123400), ("12,345", 1234500), ("1.234.567,89", 123456789), ("1,234,567.89", 123456789),
    ("0,01", 1), ("-250", -25000), ("−12,30", -1230), ("250-", -25000), ("kr. 1.000", 100000),
    ("1.000 kr.", 100000), ("3400000", 340000000), ("", None), ("  ", None),
    ("0,1", 10), ("99999999,99", 9999999999),
])
def test_money_is_read_exactly_into_ore(app, text, ore):
    with app.test_request_context():
        assert parse_money(text) == ore


@pytest.mark.parametrize("text", ["abc", "1,2,3", "12,", ".5", "1e5", "1..2", "1.23.4", "12,345,6", "1,5.3",
                                  "1,234,56", "0,001", "12,3456", "1.2345", "--5", "NaN", "inf",
                                  "9" * 40, "1" + "0" * 14, "1.0,5"])
def test_garbage_money_is_refused_with_a_message(app, text):
    with app.test_request_context():
        with pytest.raises(NumberError):
            parse_money(text)


def test_money_is_shown_the_danish_way_and_typed_back(app):
    with app.test_request_context():
        assert format_money(123450) == "1.234,50"
        assert format_money(-5) == "-0,05"
        assert format_money(340000000) == "3.400.000,00"
        assert money_as_typed(-123405) == "-1234,05"
        assert parse_money(money_as_typed(-123405)) == -123405


# --- Cost lines and grants (admins) -----------------------------------------------------------------

def test_only_admins_keep_cost_lines_and_grants(app, users, cost_lines):
    line = cost_lines["courses"]
    data = budgets.CostLineData("Kurser", "Courses", "Vejledning", 5, True)
    for role in ("ambassador", "working_group"):
        with pytest.raises(Forbidden):
            budgets.save_cost_line(line, data, line.version, actor=users[role])
        with pytest.raises(Forbidden):
            budgets.save_grant(A, budgets.GrantData(1, date(2023, 1, 1), date(2026, 12, 31)), actor=users[role])
    saved = budgets.save_cost_line(line, data, line.version, actor=users["admin"])
    assert (saved.label_da, saved.code, saved.position) == ("Kurser", "courses", 5)
    with pytest.raises(Conflict):
        budgets.save_cost_line(line, data, 1, actor=users["admin"])  # an old version
    with pytest.raises(FieldError) as error:
        budgets.save_cost_line(None, budgets.CostLineData("Rejser", "Travel", code="courses"), actor=users["admin"])
    assert error.value.field == "code"
    grant = budgets.save_grant(A, budgets.GrantData(340000000, date(2023, 1, 1), date(2026, 12, 31), "STAR-1"),
                               actor=users["admin"])
    assert (grant.amount_ore, grant.reference) == (340000000, "STAR-1")
    with pytest.raises(FieldError) as error:
        budgets.save_grant(A, budgets.GrantData(1, date(2026, 1, 1), date(2023, 1, 1)), grant.version,
                           actor=users["admin"])
    assert error.value.field == "project_end"


def test_cost_line_pages(login_as, users, cost_lines):
    admin = login_as(users["admin"])
    assert "Aflønning af IPS-ambassadører" in admin.get("/admin/udgiftsposter/").text
    line = cost_lines["audit"]
    page = admin.get(f"/admin/udgiftsposter/{line.id}")
    assert page.status_code == 200 and 'value="Revision"' in page.text
    refused = admin.post(f"/admin/udgiftsposter/{line.id}", data={
        "label_da": "", "label_en": "Audit", "position": "abc", "version": str(line.version)})
    assert refused.status_code == 400 and 'value="abc"' in refused.text
    created = admin.post("/admin/udgiftsposter/ny", data={
        "code": "travel", "label_da": "Rejser", "label_en": "Travel", "position": "75", "active": "y"})
    assert created.status_code == 302
    assert db.session.scalar(select(CostLine).where(CostLine.code == "travel")).label_da == "Rejser"
    assert login_as(users["working_group"]).get("/admin/udgiftsposter/").status_code == 403


def test_grant_form_reads_danish_kroner(login_as, users):
    admin = login_as(users["admin"])
    response = admin.post(f"/oekonomi/tilskud/{A}", data={
        "amount": "3.400.000,00", "project_start": "01-01-2023", "project_end": "31-12-2026", "reference": "J-17"})
    assert response.status_code == 302
    assert db.session.scalar(select(Grant.amount_ore).where(Grant.region_code == A)) == 340000000
    bad = admin.post(f"/oekonomi/tilskud/{A}", data={"amount": "3,4 mio", "project_start": "01-01-2023",
                                                    "project_end": "31-12-2026"})
    assert bad.status_code == 400 and 'value="3,4 mio"' in bad.text and "Skriv et beløb" in bad.text
    page = login_as(users["working_group"]).get("/oekonomi/")
    assert page.status_code == 200 and "3.400.000,00" in page.text


# --- Budgets -------------------------------------------------------------------------------------

def _draft(cost_lines, amounts: dict[str, int], reason="Første budget", revised_on=date(2025, 1, 10)):
    return budgets.DraftData(revised_on, reason, {
        line.id: budgets.LineData(amounts.get(code, 0), f"Note til {code}") for code, line in cost_lines.items()})


def test_budget_versions_approval_and_revision(app, users, cost_lines):
    ambassador, admin = users["ambassador"], users["admin"]
    draft = budgets.save_draft(None, _draft(cost_lines, {"salaries": 60000000, "courses": 5000050}),
                               region_code=A, year=2025, actor=ambassador)
    assert (draft.number, draft.approved_on, len(draft.lines)) == (1, None, len(cost_lines))
    assert budgets.approved_budget(A, 2025) == {}
    with pytest.raises(Forbidden):
        budgets.approve(draft, date(2025, 2, 1), actor=ambassador)  # STAR approves; admins record it
    with pytest.raises(FieldError):
        budgets.approve(draft, date(2025, 1, 1), actor=admin)  # before the version's own date
    budgets.approve(draft, date(2025, 2, 1), actor=admin)
    with pytest.raises(Conflict):  # an approved version is never edited
        budgets.save_draft(draft, _draft(cost_lines, {"salaries": 1}), region_code=A, year=2025, actor=admin)
    with pytest.raises(Conflict):
        budgets.discard_draft(draft, actor=admin)
    assert budgets.approved_budget(A, 2025)[cost_lines["courses"].id] == 5000050
    revision = budgets.revise(draft, date(2025, 6, 1), "Flere kurser", actor=ambassador)
    assert (revision.number, revision.approved_on, revision.reason) == (2, None, "Flere kurser")
    with pytest.raises(Conflict):  # one draft at a time
        budgets.revise(draft, date(2025, 6, 2), "Igen", actor=ambassador)
    budgets.save_draft(revision, _draft(cost_lines, {"salaries": 60000000, "courses": 7000000}, "Flere kurser",
                                        date(2025, 6, 1)), region_code=A, year=2025, actor=ambassador)
    # The draft is not the budget until approved.
    assert budgets.approved_budget(A, 2025)[cost_lines["courses"].id] == 5000050
    budgets.approve(revision, date(2025, 6, 15), actor=admin)
    assert budgets.approved_budget(A, 2025)[cost_lines["courses"].id] == 7000000
    views = budgets.version_views(budgets.versions(A, 2025))
    assert [v.is_the_budget for v in views] == [False, True]
    assert views[1].total == 67000000 and views[1].total_difference == 7000000 - 5000050
    assert views[1].differences[cost_lines["courses"].id] == 1999950
    assert db.session.get(BudgetVersion, draft.id).lines[0].amount_ore in (60000000, 0, 5000050)


def test_approved_budgets_for_every_region_in_one_query(app, users, cost_lines, count_queries=None):
    salaries, audit = cost_lines["salaries"].id, cost_lines["audit"].id
    factories.BudgetVersionFactory(region_code=A, number=1, approved_on=date(2025, 2, 1), amounts={salaries: 100})
    factories.BudgetVersionFactory(region_code=A, number=2, approved_on=date(2025, 5, 1),
                                   amounts={salaries: 200, audit: 5})
    factories.BudgetVersionFactory(region_code=A, number=3, amounts={salaries: 999})  # a draft
    factories.BudgetVersionFactory(region_code=B, number=1, approved_on=date(2025, 2, 1), amounts={salaries: 7})
    factories.BudgetVersionFactory(region_code=B, year=2024, number=1, approved_on=date(2024, 2, 1),
                                   amounts={salaries: 8})
    from sqlalchemy import event

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        result = budgets.approved_budgets(2025)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) == 1
    assert result == {A: {salaries: 200, audit: 5}, B: {salaries: 7}}
    assert budgets.approved_budget(B, 2024) == {salaries: 8}


def test_every_budget_line_needs_an_amount_and_a_note(app, users, cost_lines):
    data = _draft(cost_lines, {"salaries": 100})
    data.lines[cost_lines["audit"].id] = budgets.LineData(100, "  ")
    with pytest.raises(FieldError) as error:
        budgets.save_draft(None, data, region_code=A, year=2025, actor=users["ambassador"])
    assert error.value.field == f"note_{cost_lines['audit'].id}"
    data.lines[cost_lines["audit"].id] = budgets.LineData(-1, "Revision")
    with pytest.raises(FieldError) as error:
        budgets.save_draft(None, data, region_code=A, year=2025, actor=users["ambassador"])
    assert error.value.field == f"amount_{cost_lines['audit'].id}"
    assert db.session.scalar(select(func.count(BudgetVersion.id))) == 0


@pytest.mark.parametrize("role, allowed", [("ambassador", True), ("ambassador_b", False), ("working_group", False),
                                           ("admin", True)])
def test_budget_region_rule(app, users, cost_lines, role, allowed):
    def attempt():
        return budgets.save_draft(None, _draft(cost_lines, {}), region_code=A, year=2025, actor=users[role])

    if allowed:
        assert attempt().region_code == A
    else:
        with pytest.raises(Forbidden):
            attempt()


def _budget_form(cost_lines, **overrides) -> dict:
    data = {"revised_on": "10-01-2025", "reason": "Første budget"}
    for code, line in cost_lines.items():
        data[f"amount_{line.id}"] = "1.000,00"
        data[f"note_{line.id}"] = f"Note {code}"
    data.update(overrides)
    return data


def test_budget_pages(login_as, users, cost_lines):
    ambassador = login_as(users["ambassador"])
    assert ambassador.get(f"/oekonomi/budget/{A}/2025").status_code == 200
    form = ambassador.get(f"/oekonomi/budget/{A}/2025/ny")
    assert form.status_code == 200 and "Aflønning af IPS-ambassadører" in form.text
    salaries = cost_lines["salaries"].id
    bad = ambassador.post(f"/oekonomi/budget/{A}/2025/ny", data=_budget_form(
        cost_lines, **{f"amount_{salaries}": "12,3,4", f"note_{salaries}": "Løn"}))
    assert bad.status_code == 400 and 'value="12,3,4"' in bad.text and "Skriv et beløb" in bad.text
    no_note = ambassador.post(f"/oekonomi/budget/{A}/2025/ny", data=_budget_form(
        cost_lines, **{f"amount_{salaries}": "600.000,50", f"note_{salaries}": ""}))
    assert no_note.status_code == 400 and 'value="600.000,50"' in no_note.text
    saved = ambassador.post(f"/oekonomi/budget/{A}/2025/ny", data=_budget_form(
        cost_lines, **{f"amount_{salaries}": "600.000,50"}))
    assert saved.status_code == 302
    version = db.session.scalar(select(BudgetVersion))
    assert {line.cost_line_id: line.amount_ore for line in version.lines}[salaries] == 60000050
    page = ambassador.get(f"/oekonomi/budget/{A}/2025").text
    assert "600.000,50" in page and "Udkast" in page
    assert login_as(users["ambassador_b"]).post(f"/oekonomi/budgetversion/{version.id}",
                                                data=_budget_form(cost_lines)).status_code == 403
    assert ambassador.post(f"/oekonomi/budgetversion/{version.id}/godkend",
                           data={"approved_on": "01-02-2025"}).status_code == 403
    admin = login_as(users["admin"])
    assert admin.post(f"/oekonomi/budgetversion/{version.id}/godkend",
                      data={"approved_on": "01-02-2025"}).status_code == 302
    db.session.refresh(version)
    assert version.approved_on == date(2025, 2, 1)
    # An approved version's form sends the user back to the budget; a revision is a new draft.
    assert ambassador.get(f"/oekonomi/budgetversion/{version.id}").status_code == 302
    revised = ambassador.post(f"/oekonomi/budgetversion/{version.id}/revider",
                              data={"revised_on": "01-06-2025", "reason": "Flere kurser"})
    assert revised.status_code == 302
    assert "Gældende budget" in ambassador.get(f"/oekonomi/budget/{A}/2025").text
    assert login_as(users["working_group"]).get(f"/oekonomi/budget/{A}/2025").status_code == 200


@pytest.mark.parametrize("url", ["/oekonomi/?year=abc", "/oekonomi/?year=99999", f"/oekonomi/budget/{A}/1",
                                 "/oekonomi/budget/9999/2025", "/oekonomi/budgetversion/99999"])
def test_bad_budget_arguments_never_fail(login_as, users, url):
    assert login_as(users["admin"]).get(url).status_code in (200, 404)


# --- Expenses --------------------------------------------------------------------------------------

def _data(cost_lines, **overrides) -> expenses.ExpenseData:
    values = dict(region_code=A, spent_on=date(2025, 3, 4), cost_line_id=cost_lines["courses"].id,
                  amount_ore=123450, description="Forplejning, kursus", voucher="2025-0117")
    values.update(overrides)
    return expenses.ExpenseData(**values)


@pytest.mark.parametrize("role, allowed", [("ambassador", True), ("ambassador_b", False), ("working_group", False),
                                           ("admin", True), ("expert_panel", False)])
def test_every_expense_write_follows_the_region_rule(app, users, cost_lines, role, allowed):
    actor = users[role] if role != "expert_panel" else factories.UserFactory(role="expert_panel", region_code=None)
    stored = factories.ExpenseFactory(region_code=A, cost_line_id=cost_lines["salaries"].id, voucher="X-1")
    writes = [
        lambda: expenses.save_expense(None, _data(cost_lines), actor=actor),
        lambda: expenses.save_expense(stored, _data(cost_lines, voucher="X-1", cost_line_id=stored.cost_line_id),
                                      stored.version, actor=actor),
        lambda: expenses.delete_expense(stored, stored.version, actor=actor),
    ]
    for write in writes:
        if allowed:
            write()
        else:
            with pytest.raises(Forbidden):
                write()
    remaining = db.session.scalar(select(func.count(Expense.id)))
    assert remaining == (1 if allowed else 1)


def test_an_ambassador_cannot_move_an_expense_to_another_region(app, users, cost_lines):
    stored = factories.ExpenseFactory(region_code=A, cost_line_id=cost_lines["salaries"].id)
    with pytest.raises(Forbidden):
        expenses.save_expense(stored, _data(cost_lines, region_code=B), stored.version, actor=users["ambassador"])
    with pytest.raises(Forbidden):
        expenses.save_expense(None, _data(cost_lines, region_code=B), actor=users["ambassador"])


def test_expense_rules(app, users, cost_lines):
    admin = users["admin"]
    activity_b = factories.ActivityFactory(region_code=B)
    cases = [
        (dict(amount_ore=0), "amount"), (dict(amount_ore=None), "amount"), (dict(spent_on=None), "spent_on"),
        (dict(spent_on=date(1999, 12, 31)), "spent_on"), (dict(cost_line_id=99999), "cost_line"),
        (dict(description="  "), "description"), (dict(voucher=""), "voucher"), (dict(voucher="x" * 61), "voucher"),
        (dict(activity_id=activity_b.id), "activity"), (dict(region_code=None), "region"),
        (dict(region_code=4242), "region"),
    ]
    for overrides, field in cases:
        with pytest.raises(FieldError) as error:
            expenses.save_expense(None, _data(cost_lines, **overrides), actor=admin)
        assert error.value.field == field, overrides
    credit = expenses.save_expense(None, _data(cost_lines, amount_ore=-25000, voucher="K-1"), actor=admin)
    assert credit.amount_ore == -25000
    expenses.save_expense(None, _data(cost_lines), actor=admin)
    with pytest.raises(FieldError) as error:  # the same voucher on the same cost line in the region
        expenses.save_expense(None, _data(cost_lines, amount_ore=1), actor=admin)
    assert error.value.field == "voucher"
    # The same voucher split over two cost lines is two expenses.
    expenses.save_expense(None, _data(cost_lines, cost_line_id=cost_lines["other"].id), actor=admin)
    cost_lines["audit"].active = False
    db.session.commit()
    with pytest.raises(FieldError) as error:
        expenses.save_expense(None, _data(cost_lines, cost_line_id=cost_lines["audit"].id, voucher="R"), actor=admin)
    assert error.value.field == "cost_line"


def test_expense_form_list_filters_and_export(login_as, users, cost_lines):
    client = login_as(users["ambassador"])
    activity = factories.ActivityFactory(region_code=A, title="IPS-kursus i Hillerød")
    assert client.get("/oekonomi/udgifter/ny").status_code == 200
    form = {"spent_on": "04-03-2025", "region": str(A), "cost_line": str(cost_lines["courses"].id),
            "amount": "1.234,50", "description": "Forplejning", "voucher": "2025-0117", "activity": str(activity.id)}
    bad = client.post("/oekonomi/udgifter/ny", data={**form, "amount": "12,3456", "spent_on": "31-02-2025"})
    assert bad.status_code == 400 and 'value="12,3456"' in bad.text and 'value="31-02-2025"' in bad.text
    assert 'value="Forplejning"' in bad.text
    assert client.post("/oekonomi/udgifter/ny", data=form).status_code == 302
    assert client.post("/oekonomi/udgifter/ny", data={**form, "voucher": "K-9", "amount": "-234,50",
                                                      "activity": ""}).status_code == 302
    clash = client.post("/oekonomi/udgifter/ny", data=form)
    assert clash.status_code == 400 and "allerede bogført" in clash.text
    assert client.post("/oekonomi/udgifter/ny", data={**form, "region": str(B)}).status_code == 403
    expense = db.session.scalar(select(Expense).where(Expense.voucher == "2025-0117"))
    assert (expense.amount_ore, expense.activity_id, expense.created_by_id) == (123450, activity.id,
                                                                              users["ambassador"].id)
    listing = client.get("/oekonomi/udgifter/").text
    assert "1.234,50" in listing and "-234,50" in listing and "1.000,00" in listing  # the total
    assert "IPS-kursus i Hillerød" in listing
    assert "Ingen udgifter" in client.get(f"/oekonomi/udgifter/?region={B}").text
    assert "Ingen udgifter" in client.get("/oekonomi/udgifter/?region=&start=2025-03-05").text
    filtered = client.get(f"/oekonomi/udgifter/?region=&cost_line={cost_lines['courses'].id}&end=04-03-2025").text
    assert "1.000,00" in filtered
    csv = client.get("/oekonomi/udgifter/?region=&format=csv-excel").data.decode("utf-8-sig").splitlines()
    assert len(csv) == 3 and ";1234,5;" in csv[1] + csv[2] and ";-234,5;" in csv[1] + csv[2]
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(client.get("/oekonomi/udgifter/?region=&format=xlsx").data)).active
    amounts = sorted(row[4] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert [round(a * 100) for a in amounts] == [-23450, 123450]
    edit = client.post(f"/oekonomi/udgifter/{expense.id}", data={**form, "amount": "1.300", "version": "1"})
    assert edit.status_code == 302
    stale = client.post(f"/oekonomi/udgifter/{expense.id}", data={**form, "amount": "1.400", "version": "1"})
    assert stale.status_code == 409 and 'value="1.400"' in stale.text
    db.session.refresh(expense)
    assert expense.amount_ore == 130000
    assert login_as(users["working_group"]).post(f"/oekonomi/udgifter/{expense.id}/slet",
                                                 data={"version": str(expense.version)}).status_code == 403
    assert client.post(f"/oekonomi/udgifter/{expense.id}/slet", data={"version": str(expense.version)}).status_code == 302
    assert db.session.scalar(select(func.count(Expense.id))) == 1


@pytest.mark.parametrize("url", ["/oekonomi/udgifter/?region=abc&cost_line=x&start=garbage&end=99-99-9999&page=-3",
                                 "/oekonomi/udgifter/?page=99999", "/oekonomi/udgifter/?format=xlsx&region=zz",
                                 "/oekonomi/udgifter/999999"])
def test_bad_expense_arguments_never_fail(login_as, users, cost_lines, url):
    assert login_as(users["admin"]).get(url).status_code in (200, 404)


def test_garbage_expense_forms_never_fail(login_as, users, cost_lines):
    client = login_as(users["admin"])
    for data in ({}, {"region": "x", "cost_line": "y", "activity": "z", "amount": "\x00", "spent_on": "0-0-0"},
                 {"region": str(A), "cost_line": str(cost_lines["courses"].id), "amount": "9" * 30,
                  "spent_on": "01-01-2025", "description": "x" * 400, "voucher": "v", "activity": "-1"}):
        assert client.post("/oekonomi/udgifter/ny", data=data).status_code == 400


def test_expense_list_query_count_is_constant(login_as, users, cost_lines):
    from sqlalchemy import event

    client = login_as(users["admin"])

    def count(url):
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    factories.ExpenseFactory(activity_id=factories.ActivityFactory(region_code=A).id)
    few = count("/oekonomi/udgifter/")
    for n in range(30):
        factories.ExpenseFactory(region_code=A if n % 2 else B,
                                 activity_id=factories.ActivityFactory(region_code=A if n % 2 else B).id)
    assert count("/oekonomi/udgifter/") == few
    assert count("/oekonomi/") == count("/oekonomi/")
