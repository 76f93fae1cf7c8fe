"""factory_boy factories for test data. Each commits, so the app sees the rows at once."""
from datetime import date, datetime

import factory
from factory.alchemy import SQLAlchemyModelFactory

from crm.extensions import db
from crm.models import (Activity, BudgetLine, BudgetVersion, Contact, CooperationPlan, CostLine, Expense, Material,
                        MaterialVersion, Note, PsychiatricCentre, SavedReport, StageChange, Task, User)

PASSWORD = "correct horse battery"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@test.dk")
    name = factory.Sequence(lambda n: f"Bruger {n}")
    role = "ambassador"
    region_code = 1084
    active = True
    password_hash = ""

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)
        if create:
            db.session.commit()


class CentreFactory(BaseFactory):
    class Meta:
        model = PsychiatricCentre

    name = factory.Sequence(lambda n: f"Psykiatrisk Center {n}")
    region_code = 1084


class StageChangeFactory(BaseFactory):
    class Meta:
        model = StageChange

    municipality_code = 101
    stage = "dialogue"
    effective_date = date(2025, 1, 15)
    note = None


class ActivityFactory(BaseFactory):
    class Meta:
        model = Activity

    type = "dialogue_meeting"
    title = factory.Sequence(lambda n: f"Aktivitet {n}")
    start_date = date(2025, 3, 1)
    region_code = 1084
    participants = None
    hours = None


class PlanFactory(BaseFactory):
    class Meta:
        model = CooperationPlan

    title = factory.Sequence(lambda n: f"Samarbejdsplan {n}")
    region_code = 1084
    signed_date = None


class ContactFactory(BaseFactory):
    class Meta:
        model = Contact

    name = factory.Sequence(lambda n: f"Kontakt {n}")
    organisation = "Jobcenter"
    role = "Leder"
    region_code = 1084


class NoteFactory(BaseFactory):
    class Meta:
        model = Note

    municipality_code = 101
    note_date = date(2025, 1, 1)
    text = "Et notat"


class TaskFactory(BaseFactory):
    class Meta:
        model = Task

    municipality_code = 101
    text = "Ring til jobcenterchefen"
    status = "open"


class MaterialFactory(BaseFactory):
    """A material stored as it is (no workflow): for set-ups; the workflow goes through
    ``crm.services.materials``."""

    class Meta:
        model = Material

    title = factory.Sequence(lambda n: f"Materiale {n}")
    kind = "guide"
    track = 3
    state = "draft"


class MaterialVersionFactory(BaseFactory):
    class Meta:
        model = MaterialVersion

    number = 1
    link = "https://example.dk/materiale"


def a_cost_line() -> CostLine:
    """A cost line for set-ups: the first seeded one, or a new one when none are seeded."""
    line = db.session.query(CostLine).order_by(CostLine.position).first()
    if line is None:
        line = CostLine(code="salaries", label_da="Aflønning af IPS-ambassadører",
                        label_en="Salaries of the IPS ambassadors", position=10)
        db.session.add(line)
        db.session.commit()
    return line


class ExpenseFactory(BaseFactory):
    """An expense stored as it is (no rules): for set-ups; writes go through ``crm.services.expenses``."""

    class Meta:
        model = Expense

    region_code = 1084
    spent_on = date(2025, 3, 1)
    cost_line_id = factory.LazyFunction(lambda: a_cost_line().id)
    amount_ore = 123450
    description = "Forplejning"
    voucher = factory.Sequence(lambda n: f"B-{n}")


class BudgetVersionFactory(BaseFactory):
    """A budget version with one line per given cost line (a draft unless ``approved_on``)."""

    class Meta:
        model = BudgetVersion

    region_code = 1084
    year = 2025
    number = 1
    revised_on = date(2025, 1, 10)
    reason = "Budget for året"
    approved_on = None

    @factory.post_generation
    def amounts(obj, create, extracted, **kwargs):
        """``amounts={cost_line_id: øre}``; default one line of 100 000 kr. on the first cost line."""
        amounts = extracted if extracted is not None else {a_cost_line().id: 10_000_000}
        for cost_line_id, amount in amounts.items():
            obj.lines.append(BudgetLine(cost_line_id=cost_line_id, amount_ore=amount, note="Note"))
        db.session.commit()


class SavedReportFactory(BaseFactory):
    """A national status report, XLSX, half-yearly on 10 January and July at 07:00, scheduled
    since 1 January 2026 (add ``recipients``)."""

    class Meta:
        model = SavedReport

    name = factory.Sequence(lambda n: f"Statusrapport {n}")
    kind = "status"
    period_rule = "last_completed_half"
    region_code = None
    format = "xlsx"
    frequency = "halfyearly"
    weekday = 0
    day = 10
    hour = 7
    active = True
    schedule_from = datetime(2026, 1, 1)
