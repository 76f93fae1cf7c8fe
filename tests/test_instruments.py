"""Instruments as records: IPS-25 v1 as seeded, drafts (copied), items and bands while draft,
activate and retire, the working group's right to define them (and nobody else's), totals and
bands per version with weights, only active versions for new reviews, history across mapped
versions, and the overview per version; on both databases."""
from datetime import date

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import FidelityReview, Instrument, InstrumentItemMapping, InstrumentVersion
from crm.services import fidelity, instruments, permissions
from crm.services.errors import FieldError, Forbidden
from tests.test_fidelity import KEYS, make_review, scores_for_total


def ips25():
    return db.session.scalar(select(InstrumentVersion).join(Instrument).where(Instrument.code == "IPS-25"))


def dk_v2(actor, activate=True):
    """A copy of IPS-25 v1 where Services-4 becomes 'DK-1' (weight 2, scale 1–5) and Staffing-1 is
    dropped; the top band renamed."""
    v1 = ips25()
    v2 = instruments.create_draft(v1.instrument, "IPS-25 DK", copy_from=v1, actor=actor)
    item = next(i for i in v2.items if i.key == "Services-4")
    instruments.save_item(v2, item, {"key": "DK-1", "section": "Services", "number": 4, "label_da": "Jobsøgning",
                                     "label_en": "Job search", "min_score": 1, "max_score": 5, "weight": 2},
                          v2.version, actor=actor)
    instruments.delete_item(v2, next(i for i in v2.items if i.key == "Staffing-1"), v2.version, actor=actor)
    top = next(b for b in v2.bands if b.code == "exemplary")
    instruments.save_band(v2, top, {"code": "exemplary", "lower_total": 115, "upper_total": 125,
                                    "label_da": "Fremragende", "label_en": "Exemplary"}, v2.version, actor=actor)
    if activate:  # 24 items, one weighing 2: totals 25–125 as before, so the bands still cover them
        instruments.activate(v2, v2.version, actor=actor)
    return v2


def test_ips25_v1_is_the_published_scale(app):
    v1 = ips25()
    assert (v1.number, v1.state) == (1, "active")
    scale = fidelity.scale_of(v1.id)
    assert [i.key for i in scale.items] == KEYS
    assert [(b.code, b.min_total, b.max_total) for b in scale.bands] == [
        ("exemplary", 115, 125), ("good", 100, 114), ("fair", 74, 99), ("not_ips", 25, 73)]
    assert scale.items == fidelity.scale_items()
    assert scale.bands == fidelity.bands()
    review = make_review(101, date(2025, 5, 1), scores_for_total(100))
    assert review.instrument_version_id == v1.id and review.total == 100


def test_only_admins_and_the_working_group_define_instruments(app, users):
    assert permissions.can_define_instruments(users["admin"])
    assert permissions.can_define_instruments(users["working_group"])
    assert not permissions.can_define_instruments(users["ambassador"])
    # The working group still changes no regional record.
    assert not permissions.can_write_region(1084, user=users["working_group"])
    v1 = ips25()
    with pytest.raises(Forbidden):
        instruments.create_draft(v1.instrument, "x", actor=users["ambassador"])
    with pytest.raises(Forbidden):
        instruments.create_instrument({"code": "X", "name_da": "x", "name_en": "x"}, actor=users["ambassador"])
    with pytest.raises(Forbidden):
        instruments.retire(v1, v1.version, actor=users["ambassador"])
    draft = instruments.create_draft(v1.instrument, "Udkast", copy_from=v1, actor=users["working_group"])
    assert (draft.number, draft.state, len(draft.items), len(draft.bands)) == (2, "draft", 25, 4)
    assert db.session.scalar(select(func.count(InstrumentItemMapping.id))) == 25


def test_a_version_changes_only_while_draft_and_activates_only_when_complete(app, users):
    admin = users["admin"]
    v1 = ips25()
    with pytest.raises(FieldError):
        instruments.save_item(v1, v1.items[0], {"key": "Staffing-1"}, v1.version, actor=admin)
    instrument = instruments.create_instrument({"code": "QX", "name_da": "Kvalitet", "name_en": "Quality"},
                                               actor=admin)
    draft = instrument.versions[0]
    with pytest.raises(FieldError) as empty:
        instruments.activate(draft, draft.version, actor=admin)
    assert empty.value.field == "state"
    values = {"key": "A", "section": "Alt", "number": 1, "label_da": "a", "label_en": "a", "min_score": 0,
              "max_score": 4, "allowed_values": "0,2,4", "weight": 3}
    instruments.save_item(draft, None, values, draft.version, actor=admin)
    instruments.save_item(draft, None, {**values, "key": "B", "number": 2, "allowed_values": "", "weight": 1},
                          draft.version, actor=admin)
    with pytest.raises(FieldError) as duplicate:
        instruments.save_item(draft, None, {**values, "number": 3}, draft.version, actor=admin)
    assert duplicate.value.field == "key"
    with pytest.raises(FieldError) as outside:
        instruments.save_item(draft, None, {**values, "key": "C", "allowed_values": "0,9"}, draft.version,
                              actor=admin)
    assert outside.value.field == "allowed_values"
    band = {"code": "low", "lower_total": 0, "upper_total": 9, "label_da": "Lav", "label_en": "Low"}
    instruments.save_band(draft, None, band, draft.version, actor=admin)
    with pytest.raises(FieldError):  # 10–16 not covered
        instruments.activate(draft, draft.version, actor=admin)
    with pytest.raises(FieldError) as overlap:
        instruments.save_band(draft, None, {**band, "code": "high", "lower_total": 9, "upper_total": 16},
                              draft.version, actor=admin)
    assert overlap.value.field == "lower_total"
    instruments.save_band(draft, None, {**band, "code": "high", "lower_total": 10, "upper_total": 16},
                          draft.version, actor=admin)
    # A new review cannot use a draft.
    with pytest.raises(FieldError) as not_active:
        fidelity.save_review(None, 101, {"review_date": date(2025, 5, 1)}, {}, actor=admin,
                             instrument_version_id=draft.id)
    assert not_active.value.field == "instrument_version"
    instruments.activate(draft, draft.version, actor=admin, on=date(2025, 1, 1))
    assert (draft.state, draft.activated_on) == ("active", date(2025, 1, 1))
    # Weighted total (3 × A + 1 × B) only when every item has an allowed score.
    review = fidelity.save_review(None, 101, {"review_date": date(2025, 5, 1)}, {"A": (4, None), "B": (3, None)},
                                  actor=admin, instrument_version_id=draft.id)
    assert review.total == 15 and fidelity.review_scale(review).band_or_none(review.total).code == "high"
    with pytest.raises(ValueError):
        fidelity.write_review(review, 101, {"review_date": date(2025, 5, 1)}, {"A": (3, None)}, admin)
    db.session.rollback()
    draft_review = fidelity.save_review(None, 101, {"review_date": date(2025, 6, 1)}, {"A": (2, None)},
                                        actor=admin, instrument_version_id=draft.id)
    assert draft_review.total is None
    instruments.retire(draft, draft.version, actor=admin)
    with pytest.raises(FieldError):
        fidelity.save_review(None, 101, {"review_date": date(2025, 5, 1)}, {}, actor=admin,
                             instrument_version_id=draft.id)
    # A review keeps its version forever, and can still be edited after retirement.
    fidelity.save_review(review, 101, {"review_date": date(2025, 5, 2)}, {"A": (0, None), "B": (1, None)},
                         review.version, actor=admin)
    assert review.instrument_version_id == draft.id and review.total == 1


def test_history_reads_across_mapped_versions(app, users, count_queries):
    admin = users["admin"]
    v2 = dk_v2(admin)
    first = scores_for_total(75)
    make_review(101, date(2024, 5, 1), first)
    second = {k: s for k, s in first.items() if k != "Staffing-1"}
    second["DK-1"] = second.pop("Services-4") + 1  # mapped from Services-4 (copied): improved
    second["Services-13"] = first["Services-13"] + 1
    ratings = {k: (s, None) for k, s in second.items()}
    review = fidelity.save_review(None, 101, {"review_date": date(2025, 5, 1)}, ratings, actor=admin,
                                  instrument_version_id=v2.id)
    assert review.total == sum(second.values()) + second["DK-1"]  # DK-1 weighs 2
    data = fidelity.history(101)
    assert data.changes[review.id] == {**{k: 0 for k in second}, "DK-1": 1, "Services-13": 1}
    assert data.scale.version_id == v2.id
    older = data.complete[0]
    assert data.cells[older.id]["DK-1"] == (first["Services-4"], None)
    assert "Staffing-1" not in data.cells[older.id]  # not in the latest version's rows
    # Without the mapping, the item's history stops at the version change.
    mapping = db.session.scalar(select(InstrumentItemMapping).join(
        InstrumentItemMapping.to_item).where(InstrumentItemMapping.to_item.has(key="DK-1")))
    instruments.unmap(mapping, actor=admin)
    assert "DK-1" not in fidelity.history(101).changes[review.id]
    # Constant statements whatever the number of reviews.
    with count_queries() as small:
        fidelity.history(101)
    make_review(101, date(2023, 5, 1), first)
    with count_queries() as large:
        fidelity.history(101)
    assert large.count == small.count


def test_overview_per_version(app, users):
    admin = users["admin"]
    v2 = dk_v2(admin)
    make_review(101, date(2024, 5, 1), scores_for_total(120))
    make_review(147, date(2024, 5, 1), scores_for_total(80))
    ratings = {k: (4, None) for k in KEYS if k not in ("Staffing-1", "Services-4")} | {"DK-1": (5, None)}
    review = fidelity.save_review(None, 101, {"review_date": date(2025, 5, 1)}, ratings, actor=admin,
                                  instrument_version_id=v2.id)
    assert review.total == 23 * 4 + 2 * 5
    v1_scale = fidelity.scale_of(ips25().id)
    v2_scale = fidelity.scale_of(v2.id)
    counts = {c.band.code: c.count for c in fidelity.band_distribution(scale=v1_scale)}
    assert counts == {"exemplary": 1, "good": 0, "fair": 1, "not_ips": 0}
    counts = {c.band.code: c.count for c in fidelity.band_distribution(scale=v2_scale)}
    assert counts["good"] == 1 and sum(counts.values()) == 1
    averages = {a.item.key: a for a in fidelity.item_averages(scale=v2_scale)}
    assert averages["DK-1"].average == 5.0 and averages["DK-1"].low == 0 and len(averages) == 24
    assert len(fidelity.latest_complete_reviews(version_id=v2.id)) == 1
