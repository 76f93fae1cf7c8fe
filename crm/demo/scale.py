"""A large synthetic history for benchmarks: ``flask --app wsgi demo --scale N``.

About ten years of work: all 98 municipalities with stage histories, cooperation plans for the
signed ones, contacts, notes and next steps, N activities (all types, all regions and national
ones, 1–3 municipalities each for regional work), yearly fidelity reviews with 25 ratings for
municipalities running IPS, and STAR's outcome quarters since they started.

Speed matters (N = 100 000 in seconds), so rows are built as plain dicts and written with Core
``executemany`` in chunks (on PostgreSQL with ``COPY``), with primary keys assigned here. Core inserts deliberately bypass the
audit log (``crm.audit`` hooks the ORM flush): this is synthetic data, and 100 000s of audit rows
saying "demo loader created" would only slow the load and bloat the log. Never use this path for
user data. Everything is drawn from ``ctx.rng``, so the same seed gives the same history.
"""
from importlib import import_module
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Iterable, Optional

from sqlalchemy import Table, func, select

from crm.demo.pipeline import (
    CENTRES,
    FIRST_NAMES,
    HEALTH_AGREEMENTS,
    JOB_CENTRE_ROLES,
    LAST_NAMES,
    NEXT_STEPS,
    NOTES,
    PSYCHIATRY_ROLES,
    TARGET_GROUPS,
)
from crm.extensions import db
from crm.models import (
    Activity,
    AnchoringEntry,
    AnchoringItem,
    Contact,
    CooperationPlan,
    FidelityRating,
    FidelityReview,
    Municipality,
    Note,
    OutcomeQuarter,
    PsychiatricCentre,
    StageChange,
    TargetGroup,
    Task,
    activity_centre,
    activity_municipality,
    plan_centre,
    plan_municipality,
    plan_target_group,
)
from crm.services.fidelity import ips25_version_id, scale_items

YEARS = 10
CHUNK = 5000
NATIONAL_SHARE = 0.05
# Regional work mix (type, weight); national events are conferences, webinars and materials.
REGIONAL_MIX = (("dialogue_meeting", 30), ("workshop", 10), ("course", 6), ("supervision", 22),
                ("professional_network", 6), ("management_network", 5), ("conference", 2),
                ("webinar", 3), ("material", 2), ("evaluation", 2), ("other", 6))
NATIONAL_MIX = (("conference", 3), ("webinar", 5), ("material", 2))
HOURS = {"dialogue_meeting": 1.5, "workshop": 3, "course": 6, "supervision": 2, "professional_network": 3,
         "management_network": 2.5, "conference": 7, "webinar": 1.5, "material": 8, "evaluation": 2, "other": 1}
PARTICIPANTS = {"dialogue_meeting": (3, 12), "workshop": (8, 25), "course": (12, 30), "supervision": (2, 8),
                "professional_network": (10, 30), "management_network": (6, 18), "conference": (60, 200),
                "webinar": (30, 150), "material": (0, 0), "evaluation": (2, 12), "other": (5, 40)}
TITLES = {
    "dialogue_meeting": ("Dialogmøde med Jobcenter {m}", "Opfølgningsmøde om samarbejdsplan, {m}",
                         "Møde med ledelsen i Jobcenter {m} om IPS"),
    "workshop": ("Workshop om arbejdsgange mellem Jobcenter {m} og psykiatrien",
                 "Workshop: Organisering af IPS i {m}"),
    "course": ("IPS-grundkursus for jobkonsulenter, {m}", "Undervisningsforløb om IPS-metoden, {m} og omegn"),
    "supervision": ("Supervision af IPS-team i {m}", "Gruppesupervision, IPS-konsulenter {m}"),
    "professional_network": ("Fagligt netværk for IPS-konsulenter, {r}",),
    "management_network": ("Ledelsesnetværk om IPS, {r}",),
    "conference": ("Regional IPS-konference, {r}", "Temadag om job og recovery, {r}"),
    "webinar": ("Webinar for jobcentre i {r}: Kom i gang med IPS", "Webinar: Fidelitet i praksis, {r}"),
    "material": ("Vejledning om IPS til jobcentre i {r}", "Pjece: Hvad er IPS? ({r})"),
    "evaluation": ("Dataindsamling til evalueringen, Jobcenter {m}", "Evalueringsinterview med IPS-teamet i {m}",
                   "Evalueringsworkshop om kvalitetsmåling, {r}"),
    "other": ("Oplæg om IPS på personalemøde, Jobcenter {m}", "Besøg hos IPS-teamet i {m}"),
}
NATIONAL_TITLES = {
    "conference": ("National IPS-konference: Job som en del af recovery", "Nationalt netværksmøde for ledere"),
    "webinar": ("Webinar: Sådan kommer I i gang med IPS", "Webinar: Samarbejdsplaner mellem jobcenter og psykiatri"),
    "material": ("Skabelon til samarbejdsplan om IPS", "Vejledning: Fidelitetsmåling trin for trin"),
}
REGION_NAMES = {1081: "Nordjylland", 1082: "Midtjylland", 1083: "Syddanmark", 1084: "Hovedstaden",
                1085: "Sjælland"}
# Where each municipality ends up today (weights): about 60 % covered after ten years.
FINAL_STAGES = (("not_contacted", 4), ("dialogue", 10), ("plan_in_progress", 14), ("plan_signed", 22),
                ("in_operation", 42), ("paused", 8))


class IdSequence:
    """Primary keys for one table, continuing after the rows already there."""

    def __init__(self, table: Table):
        self.table = table
        self.next = (db.session.scalar(select(func.max(table.c.id))) or 0) + 1

    def take(self) -> int:
        value, self.next = self.next, self.next + 1
        return value


def _insert(table: Table, rows: list[dict]) -> int:
    """Core executemany in chunks (PostgreSQL: one ``COPY``); returns the number of rows written."""
    conn = db.session.connection()
    if rows and conn.dialect.name == "postgresql":
        _copy(conn, table, rows)
        return len(rows)
    for start in range(0, len(rows), CHUNK):
        conn.execute(table.insert(), rows[start:start + CHUNK])
    return len(rows)


def _copy(conn, table: Table, rows: list[dict]) -> None:
    """PostgreSQL: the rows through ``COPY … FROM STDIN`` on the session's own connection and
    transaction (psycopg's pipelined executemany took 30 of the 48 s of ``demo --scale 100000``).

    What Core's insert would add is added here: the columns' Python-side defaults (scalar or
    callable) and each type's bind processing (e.g. JSON to text); columns with neither a value nor
    a Python default are left out, so the server default applies, as with an insert."""
    dialect = conn.dialect
    given = list(rows[0])
    defaults = {c.name: c.default for c in table.columns
                if c.name not in given and c.default is not None and (c.default.is_scalar or c.default.is_callable)}
    names = given + list(defaults)
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    constants = {name: (d.arg if d.is_scalar else None) for name, d in defaults.items()}
    callables = {name: d.arg for name, d in defaults.items() if d.is_callable}
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    sql = f"COPY {dialect.identifier_preparer.format_table(table)} ({columns}) FROM STDIN"
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(sql) as copy:
        for row in rows:
            values = [row[name] for name in given]
            values += [callables[name](None) if name in callables else constants[name] for name in defaults]
            copy.write_row([value if process is None else process(value)
                            for value, process in zip(values, processors)])


def _weekday(day: date) -> date:
    """The Friday before a weekend day (meetings happen on weekdays)."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _slug(value: str) -> str:
    """'Høje-Taastrup' → 'hoeje-taastrup' for synthetic e-mail addresses."""
    value = value.lower().replace("æ", "ae").replace("ø", "oe").replace("å", "aa").replace(" ", "-")
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return "".join(ch for ch in value if ch.isalnum() or ch in "-.")


def _quarters_between(first: date, last: date) -> Iterable[str]:
    """Quarter labels from the one containing ``first`` to the one containing ``last``."""
    year, q = first.year, (first.month - 1) // 3 + 1
    end = (last.year, (last.month - 1) // 3 + 1)
    while (year, q) <= end:
        yield f"{year}Q{q}"
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)


class ScaleLoader:
    """Builds and writes the synthetic history; one method per kind of record."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.rng = ctx.rng
        self.today = ctx.today
        self.start = ctx.today - timedelta(days=YEARS * 365)
        self.municipalities = db.session.execute(
            select(Municipality.code, Municipality.name, Municipality.region_code).order_by(Municipality.code)
        ).all()
        self.by_region: dict[int, list] = {}
        for row in self.municipalities:
            self.by_region.setdefault(row.region_code, []).append(row)
        self.counts: dict[str, int] = {}
        # Filled as we go: municipality code → dates it reached a stage.
        self.signed: dict[int, date] = {}
        self.operating: dict[int, date] = {}
        self.in_progress: set[int] = set()

    def owner(self, region_code: Optional[int]) -> int:
        ambassador = self.ctx.ambassadors.get(region_code) if region_code else None
        if ambassador is None:
            ambassador = self.rng.choice(list(self.ctx.ambassadors.values()))
        return ambassador.id

    def stamp(self, day: date) -> datetime:
        """A plausible 'created at' on the day (office hours)."""
        return datetime.combine(day, time(self.rng.randint(8, 16), self.rng.randint(0, 59)))

    # ----------------------------------------------------------------------------- reference

    def centres_and_groups(self) -> None:
        """Psychiatric centres and target groups per region."""
        centres, groups = IdSequence(PsychiatricCentre.__table__), IdSequence(TargetGroup.__table__)
        centre_rows = [{"id": centres.take(), "region_code": code, "name": name}
                       for code, names in CENTRES.items() for name in names]
        group_rows = [{"id": groups.take(), "region_code": code, "name": name}
                      for code in CENTRES for name in TARGET_GROUPS]
        self.counts["psychiatric_centre"] = _insert(PsychiatricCentre.__table__, centre_rows)
        self.counts["target_group"] = _insert(TargetGroup.__table__, group_rows)
        self.centres = {code: [r["id"] for r in centre_rows if r["region_code"] == code] for code in CENTRES}
        self.groups = {code: [r["id"] for r in group_rows if r["region_code"] == code] for code in CENTRES}

    # ----------------------------------------------------------------------------- pipeline

    def stage_histories(self) -> None:
        """Every municipality's path through the stages, some with a pause and a restart."""
        ids, rows = IdSequence(StageChange.__table__), []
        span = (self.today - self.start).days
        for m in self.municipalities:
            final = self.rng.choices([s for s, _ in FINAL_STAGES], weights=[w for _, w in FINAL_STAGES])[0]
            if final == "not_contacted":
                continue
            path = {"dialogue": ["dialogue"], "plan_in_progress": ["dialogue", "plan_in_progress"],
                    "plan_signed": ["dialogue", "plan_in_progress", "plan_signed"],
                    "in_operation": ["dialogue", "plan_in_progress", "plan_signed", "in_operation"],
                    "paused": ["dialogue", "paused"]}[final]
            if final in ("plan_signed", "in_operation") and self.rng.random() < 0.2:
                path = ["dialogue", "paused", "dialogue"] + path[1:]  # stalled once, then resumed
            day = self.start + timedelta(days=self.rng.randint(0, span // 2))
            gap = max(20, (self.today - day).days // (len(path) + 1))
            owner = self.owner(m.region_code)
            for stage in path:
                rows.append({"id": ids.take(), "municipality_code": m.code, "stage": stage, "effective_date": day,
                             "note": self.rng.choice(NOTES) if self.rng.random() < 0.3 else None,
                             "recorded_by_id": owner, "recorded_at": self.stamp(day)})
                if stage == "plan_signed":
                    self.signed[m.code] = day
                elif stage == "in_operation":
                    self.operating[m.code] = day
                elif stage == "plan_in_progress":
                    self.in_progress.add(m.code)
                day = min(day + timedelta(days=self.rng.randint(gap // 2, gap)), self.today - timedelta(days=1))
                if day <= rows[-1]["effective_date"]:
                    break  # out of time: the municipality stays where it is
        self.counts["stage_change"] = _insert(StageChange.__table__, rows)

    def plans(self) -> None:
        """A signed plan for each signed municipality, a draft for those still working on one."""
        ids, plans, members, centres, groups = IdSequence(CooperationPlan.__table__), [], [], [], []
        names = {m.code: m for m in self.municipalities}
        drafts = [code for code in self.in_progress if code not in self.signed]
        for code, signed in [*self.signed.items(), *((c, None) for c in drafts)]:
            m, plan_id = names[code], ids.take()
            when = signed or self.today - timedelta(days=self.rng.randint(10, 200))
            plans.append({
                "id": plan_id, "title": f"Samarbejdsplan om IPS – {m.name}", "region_code": m.region_code,
                "signed_date": signed, "valid_from": signed, "valid_to": date(signed.year + 3, 12, 31) if signed else None,
                "health_cluster": f"Sundhedsklynge {m.name}", "health_agreement": HEALTH_AGREEMENTS[m.region_code],
                "note": None, "document_file": None, "document_name": None, "version": 1,
                "updated_at": self.stamp(when), "updated_by_id": self.owner(m.region_code),
            })
            members.append({"plan_id": plan_id, "municipality_code": code})
            centres.append({"plan_id": plan_id, "centre_id": self.rng.choice(self.centres[m.region_code])})
            for group in self.rng.sample(self.groups[m.region_code], k=self.rng.randint(1, 2)):
                groups.append({"plan_id": plan_id, "target_group_id": group})
        self.counts["cooperation_plan"] = _insert(CooperationPlan.__table__, plans)
        _insert(plan_municipality, members)
        _insert(plan_centre, centres)
        _insert(plan_target_group, groups)

    def contacts_notes_next_steps(self, n_notes: int) -> None:
        """2–4 job-centre contacts and maybe a psychiatry contact per municipality; notes; next steps."""
        contact_ids, contacts = IdSequence(Contact.__table__), []
        for m in self.municipalities:
            for _ in range(self.rng.randint(2, 4)):
                first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
                contacts.append({"id": contact_ids.take(), "name": f"{first} {last}",
                                 "organisation": f"Jobcenter {m.name}", "role": self.rng.choice(JOB_CENTRE_ROLES),
                                 "email": f"{_slug(first)}.{_slug(last)}@{_slug(m.name)}.dk",
                                 "phone": "+45 " + " ".join(str(self.rng.randint(10, 99)) for _ in range(4)),
                                 "region_code": m.region_code, "municipality_code": m.code, "centre_id": None})
            if self.rng.random() < 0.5:
                first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
                contacts.append({"id": contact_ids.take(), "name": f"{first} {last}", "organisation": "Psykiatrien",
                                 "role": self.rng.choice(PSYCHIATRY_ROLES), "email": None, "phone": None,
                                 "region_code": m.region_code, "municipality_code": m.code,
                                 "centre_id": self.rng.choice(self.centres[m.region_code])})
        self.counts["contact"] = _insert(Contact.__table__, contacts)

        note_ids, notes, span = IdSequence(Note.__table__), [], (self.today - self.start).days
        for _ in range(n_notes):
            m = self.rng.choice(self.municipalities)
            day = self.start + timedelta(days=int(self.rng.triangular(0, span, span)))
            notes.append({"id": note_ids.take(), "municipality_code": m.code, "note_date": day,
                          "text": self.rng.choice(NOTES), "created_by_id": self.owner(m.region_code),
                          "created_at": self.stamp(day)})
        self.counts["note"] = _insert(Note.__table__, notes)

        task_ids, steps = IdSequence(Task.__table__), []
        for m in self.municipalities:
            for _ in range(self.rng.choice([0, 1, 1, 2])):
                owner = self.owner(m.region_code)
                steps.append({"id": task_ids.take(), "municipality_code": m.code, "text": self.rng.choice(NEXT_STEPS),
                              "owner_id": owner, "due_date": self.today + timedelta(days=self.rng.randint(-30, 90)),
                              "status": "open", "created_by_id": owner, "created_at": self.stamp(self.today),
                              "version": 1})
        self.counts["task"] = _insert(Task.__table__, steps)

    # ----------------------------------------------------------------------------- activities

    def activities(self, n: int) -> None:
        """``n`` activities over the years, growing with the programme (more in recent years)."""
        ids = IdSequence(Activity.__table__)
        rows, links, centre_links = [], [], []
        span = (self.today - self.start).days - 1
        regional = [k for k, w in REGIONAL_MIX for _ in range(w)]
        national = [k for k, w in NATIONAL_MIX for _ in range(w)]
        regions = sorted(self.by_region)
        rng = self.rng
        for _ in range(n):
            activity_id = ids.take()
            day = _weekday(self.start + timedelta(days=int(rng.triangular(0, span, span))))
            if rng.random() < NATIONAL_SHARE:
                kind, region_code = rng.choice(national), None
                title, involved = rng.choice(NATIONAL_TITLES[kind]), []
            else:
                kind, region_code = rng.choice(regional), rng.choice(regions)
                involved = rng.sample(self.by_region[region_code], k=rng.choice((1, 1, 1, 2, 3)))
                title = rng.choice(TITLES[kind]).format(m=involved[0].name, r=REGION_NAMES[region_code])
            rows.append(self._activity_row(activity_id, kind, title, day, region_code))
            links += [{"activity_id": activity_id, "municipality_code": m.code} for m in involved]
            if region_code and kind in ("dialogue_meeting", "workshop", "management_network") and rng.random() < 0.6:
                centre_links.append({"activity_id": activity_id, "centre_id": rng.choice(self.centres[region_code])})
        self.counts["activity"] = _insert(Activity.__table__, rows)
        self.counts["activity_municipality"] = _insert(activity_municipality, links)
        _insert(activity_centre, centre_links)

    def _activity_row(self, activity_id: int, kind: str, title: str, day: date, region_code: Optional[int]) -> dict:
        """One activity's columns, with participants split the way ambassadors record them."""
        rng = self.rng
        hour = rng.choice((9, 10, 12, 13))
        hours = HOURS[kind]
        sessions = rng.randint(3, 6) if kind == "course" else None
        low, high = PARTICIPANTS[kind]
        total = rng.randint(low, high) if high else None
        row = {
            "id": activity_id, "type": kind, "title": title, "start_date": day,
            "end_date": day + timedelta(weeks=2 * sessions) if sessions else None,
            "start_time": time(hour) if kind != "material" else None,
            "end_time": time(min(hour + int(hours + 0.5), 16)) if kind != "material" else None,
            "location": None, "hours": Decimal(str(3 * sessions if sessions else hours)),
            "region_code": region_code, "participants": total, "participants_municipality": None,
            "participants_psychiatry": None, "participants_other": None, "participants_staff": None,
            "participants_managers": None, "sessions": sessions,
            "link": "https://www.star.dk/ips" if kind == "material" else None, "note": None,
            "created_by_id": self.owner(region_code), "created_at": self.stamp(day), "import_key": None,
            "version": 1, "updated_at": None, "updated_by_id": None,
        }
        if total and rng.random() < 0.7:  # the split is not always known
            municipality = rng.randint(total // 3, total)
            psychiatry = rng.randint(0, total - municipality)
            managers = rng.randint(0, max(1, total // 4))
            row.update(participants_municipality=municipality, participants_psychiatry=psychiatry,
                       participants_other=total - municipality - psychiatry, participants_managers=managers,
                       participants_staff=total - managers)
        return row

    # ----------------------------------------------------------------------------- quality and outcomes

    def fidelity_reviews(self) -> None:
        """A yearly review from half a year after start of operation; the newest may be a draft."""
        keys = [item.key for item in scale_items()]
        ips25 = ips25_version_id()
        review_ids, rating_ids = IdSequence(FidelityReview.__table__), IdSequence(FidelityRating.__table__)
        reviews, ratings = [], []
        names = {m.code: m for m in self.municipalities}
        for code, operating in sorted(self.operating.items()):
            m, level, day = names[code], self.rng.uniform(2.2, 3.2), operating + timedelta(days=180)
            while day < self.today:
                review_id = review_ids.take()
                draft = day + timedelta(days=365) >= self.today and self.rng.random() < 0.3
                scores = [max(1, min(5, round(self.rng.gauss(level, 0.8)))) for _ in keys]
                rated = scores[: self.rng.randint(5, 20)] if draft else scores
                reviews.append({
                    "id": review_id, "municipality_code": code, "instrument_version_id": ips25,
                    "centre_id": self.rng.choice(self.centres[m.region_code]),
                    "team": f"IPS-team {m.name}", "review_date": _weekday(day),
                    "reviewers": "IPS-ambassadør og ekstern fidelitetskonsulent",
                    "action_plan": "Fokus på arbejdsgiverkontakt og integration med behandlingen." if not draft else None,
                    "total": None if draft else sum(scores), "created_by_id": self.owner(m.region_code),
                    "created_at": self.stamp(day), "version": 1, "updated_at": None, "updated_by_id": None,
                })
                ratings += [{"id": rating_ids.take(), "review_id": review_id, "item_key": key, "score": score,
                             "comment": None} for key, score in zip(keys, rated)]
                level = min(4.8, level + self.rng.uniform(0.1, 0.5))  # teams improve with time
                day += timedelta(days=self.rng.randint(330, 400))
        self.counts["fidelity_review"] = _insert(FidelityReview.__table__, reviews)
        self.counts["fidelity_rating"] = _insert(FidelityRating.__table__, ratings)

    def outcome_quarters(self) -> None:
        """STAR's quarterly counts for each municipality running IPS, up to the last full quarter."""
        ids, rows = IdSequence(OutcomeQuarter.__table__), []
        last_full = date(self.today.year, 3 * ((self.today.month - 1) // 3) + 1, 1) - timedelta(days=1)
        for code, operating in sorted(self.operating.items()):
            citizens = self.rng.randint(5, 20)
            for quarter in _quarters_between(operating, last_full):
                citizens = min(400, citizens + self.rng.randint(0, 12))
                paid = int(citizens * self.rng.uniform(0.25, 0.5))
                employed = int(paid * self.rng.uniform(0.5, 0.9))
                education = int(citizens * self.rng.uniform(0.02, 0.12))
                ever = min(citizens, paid + education + int(citizens * self.rng.uniform(0.05, 0.15)))
                rows.append({"id": ids.take(), "municipality_code": code, "quarter": quarter, "citizens": citizens,
                             "with_paid_hours": paid, "with_employment": employed, "with_education": education,
                             "ever_paid_hours_or_education": ever,
                             "imported_at": datetime.combine(last_full, time(12))})
        self.counts["outcome_quarter"] = _insert(OutcomeQuarter.__table__, rows)

    def anchoring_entries(self, n: int) -> None:
        """About ``n`` anchoring entries: each signed municipality's items moving from in progress to
        in place (and back now and then) over the years since signing, the health agreement per region."""
        items = db.session.execute(select(AnchoringItem.id, AnchoringItem.level, AnchoringItem.kind)
                                   .where(AnchoringItem.kind != "pipeline")).all()
        region_of = {row.code: row.region_code for row in self.municipalities}
        ids, rows = IdSequence(AnchoringEntry.__table__), []
        signed = sorted(self.signed.items())
        if not items or not signed:
            self.counts["anchoring_entry"] = 0
            return
        per_series = max(1, n // (len(signed) * len(items)))
        for code, since in signed:
            for item in items:
                regional = item.level == "region"
                span = max(1, (self.today - since).days)
                for k in range(per_series):
                    day = since + timedelta(days=span * (k + 1) // (per_series + 1))
                    rows.append({"id": ids.take(), "anchoring_item_id": item.id, "region_code": region_of[code],
                                 "municipality_code": None if regional else code,
                                 "state": self.rng.choice(("in_progress", "in_place", "in_place", "not_started")),
                                 "effective_date": day, "year": day.year if item.kind == "per_year" else None,
                                 "recorded_by_id": self.owner(region_of[code]), "recorded_at": self.stamp(day)})
        self.counts["anchoring_entry"] = _insert(AnchoringEntry.__table__, rows)

    def fix_sequences(self) -> None:
        """PostgreSQL: move each id sequence past the ids assigned here, so the app can insert."""
        if db.engine.dialect.name != "postgresql":
            return
        for model in (PsychiatricCentre, TargetGroup, StageChange, CooperationPlan, Contact, Note, Activity,
                      FidelityReview, FidelityRating, OutcomeQuarter, AnchoringEntry):
            table = model.__table__
            next_id = select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery()
            sequence = func.pg_get_serial_sequence(f'"{table.name}"', "id")  # a bound parameter
            db.session.execute(select(func.setval(sequence, next_id, False)))


def load(ctx) -> list[str]:
    """Write the synthetic history for ``ctx.scale`` activities (``load_demo`` commits)."""
    loader = ScaleLoader(ctx)
    loader.centres_and_groups()
    loader.stage_histories()
    loader.plans()
    loader.contacts_notes_next_steps(n_notes=max(200, ctx.scale // 5))
    loader.activities(ctx.scale)
    loader.fidelity_reviews()
    loader.outcome_quarters()
    loader.anchoring_entries(max(500, ctx.scale // 10))
    import_module("crm.demo.grants").load(ctx)
    loader.fix_sequences()
    return [f"Synthetic history over {YEARS} years: "
            + ", ".join(f"{count} {table}" for table, count in loader.counts.items())]
