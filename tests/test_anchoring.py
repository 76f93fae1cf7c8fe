"""The anchoring checklist (issue 16, item 1): seeding, state on a date, the score, the weakly
anchored list, region-level items, permissions and evidence; each test on both databases."""
import io
from datetime import date

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from crm.extensions import db
from crm.models import AnchoringEntry, AnchoringItem, Municipality
from crm.services import anchoring
from crm.services.reference import seed_anchoring_items
from crm.services.errors import FieldError, Forbidden
from tests import factories

KBH, FRB = 101, 147  # Region Hovedstaden (1084)
KOEGE = 259  # Region Sjælland (1085)
HOVEDSTADEN = 1084


@pytest.fixture
def items(app):
    """The seeded items by code."""
    seed_anchoring_items()
    db.session.commit()
    return {item.code: item for item in db.session.scalars(select(AnchoringItem))}


def _entry(item, code, state, day, **extra):
    """Store an entry directly (as the data a test builds, independent of the service)."""
    municipality = db.session.get(Municipality, code)
    entry = AnchoringEntry(anchoring_item_id=item.id, region_code=municipality.region_code,
                           municipality_code=None if item.level == "region" else code,
                           state=state, effective_date=day, **extra)
    db.session.add(entry)
    db.session.commit()
    return entry


def _scores(on, region_code=None):
    return {s.code: s for s in anchoring.municipality_scores(on, region_code)}


def test_seed_adds_the_nine_items_once_and_keeps_admin_edits(app, items):
    assert len(items) == 9
    assert items["plan_signed"].kind == "pipeline"
    assert items["employment_plan"].kind == "per_year"
    assert items["departments_clinics"].kind == "counts"
    assert items["health_agreement"].level == "region"
    items["health_cluster"].label_da = "Rettet af admin"
    db.session.commit()
    assert seed_anchoring_items() == 0
    db.session.commit()
    assert db.session.scalar(select(func.count(AnchoringItem.id))) == 9
    assert db.session.get(AnchoringItem, items["health_cluster"].id).label_da == "Rettet af admin"


def test_flask_seed_loads_the_items(app, runner):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "anchoring items: 9 added" in result.output
    assert "cost lines: 7 added" in result.output
    assert db.session.scalar(select(func.count(AnchoringItem.id))) == 9
    assert "anchoring items: 0 added" in runner.invoke(args=["seed"]).output


def test_state_on_a_date_is_the_latest_entry_on_or_before_it(app, items):
    cluster = items["health_cluster"]
    _entry(cluster, KBH, "in_progress", date(2025, 3, 1))
    _entry(cluster, KBH, "in_place", date(2025, 6, 1))
    _entry(cluster, KBH, "not_relevant", date(2025, 6, 1))  # same date: the later entry wins
    municipality = db.session.get(Municipality, KBH)

    def state(on):
        return next(r.state for r in anchoring.checklist(municipality, on) if r.item.code == "health_cluster")

    assert state(date(2025, 2, 28)) == "not_started"
    assert state(date(2025, 3, 1)) == "in_progress"
    assert state(date(2025, 5, 31)) == "in_progress"
    assert state(date(2025, 6, 1)) == "not_relevant"
    assert [e.state for e in anchoring.history(municipality, cluster)] == ["not_relevant", "in_place", "in_progress"]


def test_plan_signed_is_derived_from_the_pipeline(app, items):
    factories.StageChangeFactory(municipality_code=KBH, stage="plan_in_progress", effective_date=date(2025, 1, 1))
    factories.StageChangeFactory(municipality_code=KBH, stage="plan_signed", effective_date=date(2025, 4, 1))
    factories.StageChangeFactory(municipality_code=KBH, stage="in_operation", effective_date=date(2025, 9, 1))
    db.session.commit()
    municipality = db.session.get(Municipality, KBH)

    def state(on):
        return next(r.state for r in anchoring.checklist(municipality, on) if r.item.code == "plan_signed")

    assert state(date(2024, 12, 31)) == "not_started"
    assert state(date(2025, 1, 1)) == "in_progress"
    assert state(date(2025, 4, 1)) == "in_place"
    assert state(date(2025, 10, 1)) == "in_place"
    with pytest.raises(FieldError):
        anchoring.record_entry(municipality, items["plan_signed"],
                               anchoring.EntryData("in_place", date(2025, 1, 1)),
                               actor=factories.UserFactory(role="admin"))


def test_per_year_item_counts_only_its_year(app, items):
    _entry(items["employment_plan"], KBH, "in_place", date(2025, 2, 1), year=2025)
    assert _scores(date(2025, 12, 31))[KBH].score.in_place == 1
    assert _scores(date(2026, 1, 1))[KBH].score.in_place == 0  # the 2026 plan is not recorded yet


def test_score_excludes_not_relevant_and_inactive_items(app, items):
    # 9 items; KBH: 2 in place, 1 not relevant; FRB nothing.
    _entry(items["health_cluster"], KBH, "in_place", date(2025, 1, 1))
    _entry(items["workflow_model"], KBH, "in_place", date(2025, 1, 1))
    _entry(items["sub_target_groups"], KBH, "not_relevant", date(2025, 1, 1))
    _entry(items["person_group_marking"], KBH, "in_progress", date(2025, 1, 1))
    on = date(2025, 6, 1)
    scores = _scores(on)
    assert len(scores) == 98
    assert scores[KBH].score == anchoring.Score(2, 8)
    assert scores[KBH].score.pct == 25.0
    assert scores[FRB].score == anchoring.Score(0, 9)
    items["continued_funding"].active_to = date(2025, 5, 31)  # deactivated: no longer counts
    db.session.commit()
    assert _scores(on)[KBH].score == anchoring.Score(2, 7)
    assert _scores(date(2025, 5, 31))[KBH].score == anchoring.Score(2, 8)


def test_region_level_item_counts_on_every_municipality_of_its_region(app, items):
    _entry(items["health_agreement"], KBH, "in_place", date(2025, 1, 1))
    scores = _scores(date(2025, 6, 1))
    hovedstaden = [code for code, in db.session.execute(select(Municipality.code).where(
        Municipality.region_code == HOVEDSTADEN))]
    assert len(hovedstaden) == 29
    assert all(scores[code].score == anchoring.Score(1, 9) for code in hovedstaden)
    assert scores[KOEGE].score == anchoring.Score(0, 9)
    regions = anchoring.region_scores(date(2025, 6, 1))
    assert regions[HOVEDSTADEN].score == anchoring.Score(29, 29 * 9)
    assert regions[1085].score == anchoring.Score(0, 17 * 9)
    assert anchoring.national_score(regions) == anchoring.Score(29, 98 * 9)
    row = next(r for r in anchoring.checklist(db.session.get(Municipality, FRB), date(2025, 6, 1))
               if r.item.code == "health_agreement")
    assert row.state == "in_place" and row.entry is not None


def test_weakly_anchored_lists_signed_municipalities_with_fewer_than_half_in_place(app, items):
    on = date(2025, 6, 1)
    for code in (KBH, FRB, KOEGE):
        factories.StageChangeFactory(municipality_code=code, stage="plan_signed", effective_date=date(2025, 1, 1))
    factories.StageChangeFactory(municipality_code=KOEGE, stage="paused", effective_date=date(2025, 5, 1))
    db.session.commit()
    # KBH: plan_signed (derived) + 4 in place = 5 of 9: strong. FRB: plan_signed + 3 = 4 of 9: weak.
    for code, count in ((KBH, 4), (FRB, 3)):
        for item in ("health_cluster", "workflow_model", "person_group_marking", "continued_funding")[:count]:
            _entry(items[item], code, "in_place", date(2025, 2, 1))
    weak = anchoring.weakly_anchored(on)
    assert [m.code for m in weak] == [FRB]  # KOEGE is paused, so not signed on ``on``
    assert weak[0].score == anchoring.Score(4, 9)
    assert [m.code for m in anchoring.weakly_anchored(on, region_code=1085)] == []
    # FRB marks one item not relevant: 4 of 8 is half, no longer weak.
    _entry(items["sub_target_groups"], FRB, "not_relevant", date(2025, 3, 1))
    assert anchoring.weakly_anchored(on) == []
    assert anchoring.weakly_anchored(date(2025, 2, 15))[0].code == FRB  # as of an earlier date


def test_record_entry_keeps_history_and_checks_the_region(app, items, users):
    municipality = db.session.get(Municipality, KBH)
    item = items["departments_clinics"]
    data = anchoring.EntryData("in_progress", date(2025, 1, 1), note="Første afdeling", departments=1, clinics=0)
    anchoring.record_entry(municipality, item, data, actor=users["ambassador"])
    anchoring.record_entry(municipality, item, anchoring.EntryData("in_place", date(2025, 5, 1), departments=3,
                                                                   clinics=2, evidence_url="https://example.dk/x"),
                           actor=users["admin"])
    entries = anchoring.history(municipality, item)
    assert [(e.state, e.departments, e.clinics) for e in entries] == [("in_place", 3, 2), ("in_progress", 1, 0)]
    for user in (users["ambassador_b"], users["working_group"]):
        with pytest.raises(Forbidden):
            anchoring.record_entry(municipality, item, data, actor=user)
    with pytest.raises(FieldError) as error:
        anchoring.record_entry(municipality, item, anchoring.EntryData("in_place", date(2025, 1, 1),
                                                                       evidence_url="javascript:alert(1)"),
                               actor=users["ambassador"])
    assert error.value.field == "evidence_url"
    assert db.session.scalar(select(func.count(AnchoringEntry.id))) == 2


def test_evidence_upload_must_be_a_pdf(app, items, users):
    municipality = db.session.get(Municipality, KBH)
    fake = FileStorage(io.BytesIO(b"MZ not a pdf"), filename="aftale.pdf")
    with pytest.raises(FieldError) as error:
        anchoring.record_entry(municipality, items["health_cluster"], anchoring.EntryData("in_place", date(2025, 1, 1)),
                               fake, actor=users["ambassador"])
    assert error.value.field == "document"
    assert db.session.scalar(select(func.count(AnchoringEntry.id))) == 0
    pdf = FileStorage(io.BytesIO(b"%PDF-1.4 test"), filename="aftale.pdf")
    entry = anchoring.record_entry(municipality, items["health_cluster"],
                                   anchoring.EntryData("in_place", date(2025, 1, 1)), pdf, actor=users["ambassador"])
    assert entry.evidence_name == "aftale.pdf" and entry.evidence_file.endswith(".pdf")
    later = anchoring.record_entry(municipality, items["health_cluster"],
                                   anchoring.EntryData("in_place", date(2025, 2, 1), note="Bekræftet"),
                                   actor=users["ambassador"])
    assert later.evidence_file == entry.evidence_file  # the document stays the evidence


def test_save_item_is_for_admins_and_keeps_the_code(app, items, users):
    data = anchoring.ItemData("new_item", "Nyt punkt", "New item", "municipality", "state", 1, 100, None, None)
    for user in (users["ambassador"], users["working_group"]):
        with pytest.raises(Forbidden):
            anchoring.save_item(None, data, actor=user)
    item = anchoring.save_item(None, data, actor=users["admin"])
    assert item.code == "new_item"
    with pytest.raises(FieldError):
        anchoring.save_item(None, data, actor=users["admin"])  # the code is taken
    changed = anchoring.ItemData("ignored", "Nyt navn", "New name", "municipality", "state", 1, 100, None,
                                 date(2026, 1, 1))
    item = anchoring.save_item(item, changed, item.version, actor=users["admin"])
    assert (item.code, item.label_da, item.active_to) == ("new_item", "Nyt navn", date(2026, 1, 1))


def test_cost_lines_fixture_holds_the_seven_lines_of_the_call(cost_lines):
    assert list(cost_lines) == ["salaries", "activities_events", "materials", "expert_fees", "courses", "other", "audit"]
    assert cost_lines["audit"].guidance.startswith("final account signed by an auditor")
