"""The two forms of the stage rule (crm.services.stages) agree over random histories.

Hypothesis writes a random stage history to the database: several municipalities in several
regions, changes recorded out of date order (backdated), several changes on one day (a second
move of a municipality on the same day corrects the first, as the board does), pauses and moves
backwards. Then, on random dates and periods, the SQL form and the replay form must give every
municipality the same stage, the same changes that made a municipality covered and the same start
of its covered spell; both must also match a naive model of the history written here, so they
cannot agree on a wrong answer. Runs on SQLite and PostgreSQL (the ``app`` fixture), derandomized
and without Hypothesis' example database, so every run checks the same examples.
"""
from datetime import date, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from crm.extensions import db
from crm.models import COVERED_STAGES, DEFAULT_STAGE, STAGE_CODES, Municipality, StageChange
from crm.services import stages

# København, Frederiksberg (1084), Greve, Køge (1085), Aarhus (1082), Aalborg (1081), Odense (1083).
CODES = (101, 147, 253, 259, 751, 851, 461)
FIRST_DAY = date(2025, 1, 1)
SPAN = 90  # days: short enough that changes often share a day

day_offsets = st.integers(min_value=0, max_value=SPAN)
# Covered stages and pauses drawn more often, so that spells end and begin again.
some_stage = st.sampled_from(STAGE_CODES + ("plan_signed", "in_operation", "paused"))
# Changes (municipality, day, stage) in the order they were recorded, to a few municipalities at a
# time, so that each gets several (spells that end and begin again, same-day corrections).
recorded_changes = st.lists(st.sampled_from(CODES), min_size=1, max_size=4, unique=True).flatmap(
    lambda pool: st.lists(st.tuples(st.sampled_from(pool), day_offsets, some_stage), min_size=1, max_size=30))
probe_offsets = st.lists(st.integers(min_value=-3, max_value=SPAN + 3), min_size=1, max_size=5)
periods = st.lists(st.tuples(st.integers(min_value=-3, max_value=SPAN + 3),
                             st.integers(min_value=0, max_value=SPAN)), min_size=1, max_size=4)

EXAMPLES = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def _day(offset: int) -> date:
    return FIRST_DAY + timedelta(days=offset)


def _write(changes: list[tuple[int, int, str]]) -> dict[tuple[int, date], str]:
    """Replace the stage history by ``changes`` in recorded order; a second change of a
    municipality on the same day corrects the first. Returns the history as stored."""
    db.session.execute(delete(StageChange))
    stored: dict[tuple[int, date], StageChange] = {}
    for code, offset, stage in changes:
        key = (code, _day(offset))
        if key in stored:
            stored[key].stage = stage
        else:
            stored[key] = StageChange(municipality_code=code, effective_date=key[1], stage=stage)
            db.session.add(stored[key])
        db.session.flush()  # ids follow the recorded order, which the rule must ignore
    db.session.commit()
    return {key: change.stage for key, change in stored.items()}


def _naive_stage(history: dict[tuple[int, date], str], code: int, on: date) -> stages.StageOnDate:
    """The rule written out: the change with the latest date on or before ``on``."""
    days = [day for (c, day) in history if c == code and day <= on]
    if not days:
        return stages.StageOnDate(DEFAULT_STAGE, None)
    return stages.StageOnDate(history[(code, max(days))], max(days))


def _naive_became_covered(history: dict[tuple[int, date], str]) -> set[tuple[int, date, str | None, str]]:
    """Every change entering a covered stage from an uncovered one (or from none): (code, day,
    previous stage, stage)."""
    found = set()
    for code in CODES:
        previous = None
        for day in sorted(day for (c, day) in history if c == code):
            stage = history[(code, day)]
            if stage in COVERED_STAGES and previous not in COVERED_STAGES:
                found.add((code, day, previous, stage))
            previous = stage
    return found


def _sql_became_covered(start: date | None, end: date) -> set[tuple[int, date, str | None, str]]:
    entered = stages.became_covered(start, end)
    rows = db.session.execute(select(entered.c.municipality_code, entered.c.effective_date,
                                     entered.c.previous_stage, entered.c.stage))
    return {tuple(row) for row in rows}


def _replay_became_covered(history: stages.History, start: date, end: date) -> set[tuple]:
    replay = stages.Replay(history)
    replay.advance(start - timedelta(days=1))
    return {(t.code, t.on, t.before, t.stage) for t in replay.advance(end) if t.became_covered}


def test_sql_and_replay_forms_agree_on_random_histories(app):
    region_of = dict(db.session.execute(select(Municipality.code, Municipality.region_code)).all())

    @EXAMPLES
    @given(changes=recorded_changes, probes=probe_offsets, spans=periods)
    # Signed, paused, in operation (recorded backwards), then the pause corrected on its day.
    @example(changes=[(101, 60, "in_operation"), (101, 30, "paused"), (101, 10, "plan_signed"),
                      (101, 30, "dialogue"), (147, 30, "plan_signed")],
             probes=[9, 10, 29, 30, 59, 60, 90], spans=[(0, 90), (11, 60), (31, 59)])
    def agree(changes, probes, spans):
        stored = _write(changes)
        history = stages.load_history()
        probe_days = {_day(offset) for offset in probes}
        around_changes = {day + timedelta(days=n) for _code, day in stored for n in (-1, 0)}
        entered = _naive_became_covered(stored)
        for on in sorted(probe_days | around_changes):
            by_sql = stages.stages_on(on)
            assert by_sql == stages.replay_stages_on(history, region_of, on), on
            # A covered municipality's spell began with its latest change that made it covered.
            spells: dict[int, date] = {}
            for code, day, _previous, _stage in entered:
                if day <= on and by_sql[code].covered:
                    spells[code] = max(day, spells.get(code, day))
            assert stages.covered_since(CODES, on) == spells, on
            # Many codes take the other statement (every municipality, filtered in Python).
            assert stages.covered_since([*CODES, *range(1, stages.FEW_CODES + 1)], on) == spells, on
            if on not in probe_days:
                continue
            for code in CODES:
                assert by_sql[code] == stages.stage_on(code, on) == _naive_stage(stored, code, on), (code, on)
            assert stages.stages_on(on, 1084) == {c: s for c, s in by_sql.items() if region_of[c] == 1084}
        for first, last in spans:
            start, end = _day(min(first, last)), _day(max(first, last))
            by_sql = _sql_became_covered(start, end)
            assert by_sql == _replay_became_covered(history, start, end), (start, end)
            assert by_sql == {row for row in _naive_became_covered(stored) if start <= row[1] <= end}
        assert _sql_became_covered(None, _day(SPAN)) == _naive_became_covered(stored)

    agree()
