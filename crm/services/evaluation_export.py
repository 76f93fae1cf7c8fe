"""The evaluator's data package (issue 16, item 5): the CRM's records as a Frictionless Data Package.

``build_package`` returns the files of a Tabular Data Package (``datapackage.json`` and one CSV per
resource under ``data/``) as bytes; the command line (``flask --app wsgi export evaluation --out
DIR``) writes them to a folder and the working group's page (``/evaluering/``) sends them as a
zip. Nothing here knows of HTTP or files on disk.

What goes in is decided by ``RESOURCES`` and nothing else: each resource is one entry (name,
Danish title, English description, the query that reads its rows, its fields with Table Schema
types, Danish titles and English descriptions, primary and foreign keys). The descriptor, the CSV
header and the page's explanation are all made from that entry, so adding a resource is adding one
entry. Every row is read by the database (one statement per resource); the page's row counts are
one statement for all of them.

What never goes in: anything about a person. No names, e-mails or phone numbers (contacts and users
are not exported at all, nor who recorded, created or changed a record), and no free text that may
hold them (activity titles, notes, locations and links; plan titles, notes and documents; stage
and municipality notes; review teams, reviewers, action plans and item comments; tasks). What is
left are codes, dates, types, counts, regions and municipalities; names appear only for regions,
municipalities, psychiatric centres (organisations), the instruments' items and the anchoring items.
tests/test_evaluation_export.py holds this against the demo data's people.
"""
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Optional, Sequence, Union

from sqlalchemy import Boolean, Integer, Select, case, func, select, type_coerce

from crm.clock import local_today, utcnow
from crm.extensions import db
from crm.models import (
    ANCHORING_KINDS,
    ANCHORING_LEVELS,
    ANCHORING_STATES,
    ACTIVITY_TYPE_CODES,
    ACTIVITY_TYPES,
    DEFAULT_STAGE,
    STAGE_CODES,
    Activity,
    AnchoringEntry,
    AnchoringItem,
    CooperationPlan,
    FidelityRating,
    FidelityReview,
    Instrument,
    InstrumentBand,
    InstrumentItem,
    InstrumentVersion,
    Municipality,
    OutcomeQuarter,
    PsychiatricCentre,
    Region,
    StageChange,
    activity_centre,
    activity_municipality,
    plan_centre,
    plan_municipality,
    plan_target_group,
)
from crm.services.export import csv_bytes
from crm.services.fidelity import bands
from crm.services.stages import changes_with_previous, stage_select

PACKAGE_NAME = "ips-ambassador-crm-evaluation"
DESCRIPTOR = "datapackage.json"
DATA_FOLDER = "data"
# The records are the corps' and STAR's working data: handed to the evaluator, not published.
LICENSES = [{
    "name": "other-closed",
    "title": "Restricted: for the evaluation of the IPS ambassador corps on behalf of STAR; "
             "not for publication or redistribution",
}]
SOURCES = [
    {"title": "IPS-ambassadørkorpsets CRM: the corps' own records (pipeline, plans, activities, fidelity reviews)"},
    {"title": "STAR: quarterly aggregate outcome figures per municipality, as imported into the CRM"},
    {"title": "Danmarks Statistik / DAGI: official region and municipality codes"},
    {"title": "IPS Supported Employment Fidelity Scale, 25 items (IPS Employment Center), with the corps' "
              "Danish working names"},
]

Rows = Sequence[tuple]
Query = Callable[[date], Union[Select, Rows]]


@dataclass(frozen=True)
class Field:
    """One column: Table Schema ``type``, a Danish ``title``, an English ``description``."""

    name: str
    type: str
    title: str
    description: str
    constraints: dict[str, Any] = field(default_factory=dict)

    def descriptor(self) -> dict[str, Any]:
        result = {"name": self.name, "type": self.type, "title": self.title, "description": self.description}
        if self.type == "date":
            result["format"] = "default"  # ISO 8601, YYYY-MM-DD
        if self.constraints:
            result["constraints"] = dict(self.constraints)
        return result


@dataclass(frozen=True)
class ForeignKey:
    """``fields`` of this resource refer to ``fields_there`` of resource ``resource``."""

    fields: tuple[str, ...]
    resource: str
    fields_there: tuple[str, ...]

    def descriptor(self) -> dict[str, Any]:
        return {"fields": list(self.fields),
                "reference": {"resource": self.resource, "fields": list(self.fields_there)}}


@dataclass(frozen=True)
class Resource:
    """One CSV of the package. ``query(on)`` returns a select whose columns are ``fields`` in
    order (or, for bundled reference data, the rows themselves); ``on`` is the package's date."""

    name: str
    title: str
    description: str
    query: Query
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()

    @property
    def path(self) -> str:
        return f"{DATA_FOLDER}/{self.name}.csv"

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"fields": [f.descriptor() for f in self.fields], "missingValues": [""]}
        if self.primary_key:
            schema["primaryKey"] = list(self.primary_key)
        if self.foreign_keys:
            schema["foreignKeys"] = [fk.descriptor() for fk in self.foreign_keys]
        return schema


def _required(**more: Any) -> dict[str, Any]:
    return {"required": True, **more}


def _fk(name: str, resource: str, there: str) -> ForeignKey:
    return ForeignKey((name,), resource, (there,))


# --- Shared fields -----------------------------------------------------------------------------

REGION_CODE = Field("region_code", "integer", "Regionskode",
                    "Official region code (1081 Nordjylland, 1082 Midtjylland, 1083 Syddanmark, 1084 Hovedstaden, "
                    "1085 Sjælland); see regions.", _required())
MUNICIPALITY_CODE = Field("municipality_code", "integer", "Kommunekode",
                          "Official municipality code (e.g. 101 København, 751 Aarhus); see municipalities.",
                          _required())
STAGE_ENUM = {"enum": list(STAGE_CODES)}
STAGES_EXPLAINED = ("not_contacted, dialogue, plan_in_progress, plan_signed (cooperation plan signed), "
                    "in_operation (IPS in operation), paused; plan_signed and in_operation count towards the "
                    "programme's target")
COUNT = {"minimum": 0}


# --- The queries -------------------------------------------------------------------------------


def _regions(on: date) -> Select:
    return select(Region.code, Region.name).order_by(Region.code)


def _municipalities(on: date) -> Select:
    return stage_select(
        on, Municipality.code, Municipality.name, Municipality.region_code,
        func.coalesce(StageChange.stage, DEFAULT_STAGE), StageChange.effective_date,
    ).order_by(Municipality.code)


def _stage_changes(on: date) -> Select:
    changes = changes_with_previous().subquery()
    return select(changes.c.municipality_code, changes.c.effective_date, changes.c.stage,
                  changes.c.previous_stage).order_by(changes.c.municipality_code, changes.c.effective_date)


def _count_of(table, key_column, parent_column):
    """A correlated count of ``table`` rows whose ``key_column`` is the parent's id."""
    return select(func.count()).select_from(table).where(key_column == parent_column).scalar_subquery()


def _given(column):
    """True when a free-text column holds something (the text itself is never exported)."""
    return type_coerce(column.is_not(None) & (func.trim(column) != ""), Boolean)


def _plans(on: date) -> Select:
    return select(
        CooperationPlan.id, CooperationPlan.region_code, CooperationPlan.signed_date, CooperationPlan.valid_from,
        CooperationPlan.valid_to,
        _count_of(plan_municipality, plan_municipality.c.plan_id, CooperationPlan.id),
        _count_of(plan_centre, plan_centre.c.plan_id, CooperationPlan.id),
        _count_of(plan_target_group, plan_target_group.c.plan_id, CooperationPlan.id),
        _given(CooperationPlan.health_cluster), _given(CooperationPlan.health_agreement),
        type_coerce(CooperationPlan.document_file.is_not(None), Boolean),
    ).order_by(CooperationPlan.id)


def _plan_municipalities(on: date) -> Select:
    return select(plan_municipality.c.plan_id, plan_municipality.c.municipality_code).order_by(
        plan_municipality.c.plan_id, plan_municipality.c.municipality_code)


def _centres(on: date) -> Select:
    return select(PsychiatricCentre.id, PsychiatricCentre.region_code, PsychiatricCentre.name).order_by(
        PsychiatricCentre.id)


TRACK_OF_TYPE = {code: track for code, (_label, track) in ACTIVITY_TYPES.items() if track}


def _activities(on: date) -> Select:
    track = type_coerce(case(TRACK_OF_TYPE, value=Activity.type, else_=None), Integer)
    return select(
        Activity.id, Activity.type, track, Activity.start_date, Activity.end_date, Activity.region_code,
        _count_of(activity_municipality, activity_municipality.c.activity_id, Activity.id),
        Activity.hours, Activity.sessions, Activity.participants, Activity.participants_municipality,
        Activity.participants_psychiatry, Activity.participants_other, Activity.participants_staff,
        Activity.participants_managers,
    ).order_by(Activity.id)


def _activity_municipalities(on: date) -> Select:
    return select(activity_municipality.c.activity_id, activity_municipality.c.municipality_code).order_by(
        activity_municipality.c.activity_id, activity_municipality.c.municipality_code)


def _activity_centres(on: date) -> Select:
    return select(activity_centre.c.activity_id, activity_centre.c.centre_id).order_by(
        activity_centre.c.activity_id, activity_centre.c.centre_id)


def _reviews(on: date) -> Select:
    band = select(InstrumentBand.code).where(
        InstrumentBand.instrument_version_id == FidelityReview.instrument_version_id,
        FidelityReview.total.between(InstrumentBand.lower_total, InstrumentBand.upper_total),
    ).limit(1).scalar_subquery()
    rated = select(func.count()).select_from(FidelityRating).where(
        FidelityRating.review_id == FidelityReview.id, FidelityRating.score.is_not(None)).scalar_subquery()
    return select(
        FidelityReview.id, FidelityReview.municipality_code, FidelityReview.centre_id, FidelityReview.review_date,
        FidelityReview.instrument_version_id, type_coerce(FidelityReview.total.is_not(None), Boolean), rated,
        FidelityReview.total, band,
    ).order_by(FidelityReview.id)


def _instrument_versions(on: date) -> Select:
    return select(
        InstrumentVersion.id, Instrument.code, InstrumentVersion.number, InstrumentVersion.state,
        InstrumentVersion.activated_on, InstrumentVersion.retired_on,
    ).join(Instrument, Instrument.id == InstrumentVersion.instrument_id).order_by(InstrumentVersion.id)


def _anchoring_items(on: date) -> Select:
    return select(
        AnchoringItem.code, AnchoringItem.level, AnchoringItem.kind, AnchoringItem.track, AnchoringItem.position,
        AnchoringItem.active_from, AnchoringItem.active_to, AnchoringItem.label_en, AnchoringItem.label_da,
    ).order_by(AnchoringItem.position, AnchoringItem.code)


def _anchoring_entries(on: date) -> Select:
    return select(
        AnchoringEntry.id, AnchoringItem.code, AnchoringEntry.region_code, AnchoringEntry.municipality_code,
        AnchoringEntry.state, AnchoringEntry.effective_date, AnchoringEntry.year, AnchoringEntry.departments,
        AnchoringEntry.clinics,
        type_coerce(AnchoringEntry.evidence_url.is_not(None) | AnchoringEntry.evidence_file.is_not(None), Boolean),
    ).join(AnchoringItem, AnchoringItem.id == AnchoringEntry.anchoring_item_id).order_by(AnchoringEntry.id)


def _item_scores(on: date) -> Select:
    return select(FidelityRating.review_id, FidelityRating.item_key, FidelityRating.score).order_by(
        FidelityRating.review_id, FidelityRating.item_key)


def _fidelity_items(on: date) -> Select:
    """Every item key of every stored instrument version once (its first definition: IPS-25 v1's 25
    items, then keys later versions added), so every item score has its item."""
    first = select(func.min(InstrumentItem.id)).group_by(InstrumentItem.key).scalar_subquery()
    return select(InstrumentItem.key, InstrumentItem.section, InstrumentItem.number, InstrumentItem.label_en,
                  InstrumentItem.label_da).where(InstrumentItem.id.in_(first)).order_by(InstrumentItem.id)


def _outcomes(on: date) -> Select:
    return select(
        OutcomeQuarter.municipality_code, OutcomeQuarter.quarter, OutcomeQuarter.citizens,
        OutcomeQuarter.with_paid_hours, OutcomeQuarter.with_employment, OutcomeQuarter.with_education,
        OutcomeQuarter.ever_paid_hours_or_education,
    ).order_by(OutcomeQuarter.municipality_code, OutcomeQuarter.quarter)


# --- The resources: one entry each -------------------------------------------------------------

RESOURCES: tuple[Resource, ...] = (
    Resource(
        "regions", "Regioner", "The five Danish regions.", _regions,
        (Field("code", "integer", "Regionskode", "Official region code, 1081–1085.", _required()),
         Field("name", "string", "Navn", "The region's name.", _required())),
        primary_key=("code",),
    ),
    Resource(
        "municipalities", "Kommuner med fase",
        "The 98 municipalities (their job centres) with the pipeline stage each stood in on the day the "
        "package was made (Danish date); the history is in stage_changes.", _municipalities,
        (Field("code", "integer", "Kommunekode", "Official municipality code.", _required()),
         Field("name", "string", "Navn", "The municipality's name.", _required()),
         REGION_CODE,
         Field("stage", "string", "Fase ved udtræk",
               f"Pipeline stage on the package's date: {STAGES_EXPLAINED}. not_contacted when no stage was "
               "ever recorded.", _required(**STAGE_ENUM)),
         Field("stage_since", "date", "Fase siden",
               "Effective date of the stage change that put the municipality in that stage; empty when none "
               "was recorded.")),
        primary_key=("code",), foreign_keys=(_fk("region_code", "regions", "code"),),
    ),
    Resource(
        "stage_changes", "Fasehistorik",
        "Every recorded stage change of every municipality, oldest first per municipality. A change takes "
        "effect on its effective date (it may be recorded later, backdated); a municipality stands in the "
        "stage of its latest change on or before a date.", _stage_changes,
        (MUNICIPALITY_CODE,
         Field("effective_date", "date", "Gældende fra", "The date the municipality entered the stage.",
               _required()),
         Field("stage", "string", "Fase", f"The stage entered: {STAGES_EXPLAINED}.", _required(**STAGE_ENUM)),
         Field("previous_stage", "string", "Forrige fase",
               "The stage before this change; empty for the municipality's first recorded change.", STAGE_ENUM)),
        primary_key=("municipality_code", "effective_date"),
        foreign_keys=(_fk("municipality_code", "municipalities", "code"),),
    ),
    Resource(
        "cooperation_plans", "Samarbejdsplaner",
        "Cooperation plans between job centres and regional psychiatry (one plan may cover several "
        "municipalities: plan_municipalities). Titles, notes, health-cluster and health-agreement texts and "
        "documents are left out; whether they are given is shown.", _plans,
        (Field("id", "integer", "Plan-id", "The plan's number in the CRM (opaque).", _required()),
         Field("region_code", "integer", "Regionskode", "The region whose ambassador keeps the plan.",
               _required()),
         Field("signed_date", "date", "Underskrevet", "Date the plan was signed; empty while in preparation."),
         Field("valid_from", "date", "Gyldig fra", "First day the plan applies, if stated."),
         Field("valid_to", "date", "Gyldig til", "Last day the plan applies, if stated."),
         Field("municipality_count", "integer", "Antal kommuner", "Municipalities the plan covers.", COUNT),
         Field("centre_count", "integer", "Antal psykiatriske centre", "Psychiatric centres party to the plan.",
               COUNT),
         Field("target_group_count", "integer", "Antal målgrupper", "Target groups the plan names.", COUNT),
         Field("has_health_cluster", "boolean", "Sundhedsklynge angivet",
               "True when the plan names a health cluster (sundhedsklynge)."),
         Field("has_health_agreement", "boolean", "Sundhedsaftale angivet",
               "True when the plan refers to the regional health agreement (sundhedsaftale)."),
         Field("has_document", "boolean", "Dokument vedhæftet",
               "True when the signed plan is uploaded as a PDF (the document is not in the package).")),
        primary_key=("id",), foreign_keys=(_fk("region_code", "regions", "code"),),
    ),
    Resource(
        "plan_municipalities", "Samarbejdsplaners kommuner", "Which municipalities each plan covers.",
        _plan_municipalities,
        (Field("plan_id", "integer", "Plan-id", "See cooperation_plans.", _required()), MUNICIPALITY_CODE),
        primary_key=("plan_id", "municipality_code"),
        foreign_keys=(_fk("plan_id", "cooperation_plans", "id"), _fk("municipality_code", "municipalities", "code")),
    ),
    Resource(
        "psychiatric_centres", "Psykiatriske centre",
        "Regional psychiatric centres and units (organisations, reference data kept by the administrators).",
        _centres,
        (Field("id", "integer", "Center-id", "The centre's number in the CRM (opaque).", _required()),
         REGION_CODE,
         Field("name", "string", "Navn", "The centre's or unit's name.", _required())),
        primary_key=("id",), foreign_keys=(_fk("region_code", "regions", "code"),),
    ),
    Resource(
        "activities", "Aktiviteter",
        "Every logged activity in the programme's four tracks, without its title, note, place or link (free "
        "text that may name people) and without who logged it. Municipalities and psychiatric centres "
        "involved are in activity_municipalities and activity_centres.", _activities,
        (Field("id", "integer", "Aktivitets-id", "The activity's number in the CRM (opaque).", _required()),
         Field("type", "string", "Type",
               "Activity type: dialogue_meeting, workshop (track 1); course, supervision, professional_network, "
               "management_network (track 2); conference, webinar, material (track 3); evaluation (track 4: "
               "data collection, evaluation workshops and interviews, quality-measurement visits that are not "
               "fidelity reviews); other (no track).", _required(enum=list(ACTIVITY_TYPE_CODES))),
         Field("track", "integer", "Spor",
               "Track: 1 cooperation, 2 competence development, 3 communication, 4 evaluation; empty for other.",
               {"enum": sorted(set(TRACK_OF_TYPE.values()))}),
         Field("start_date", "date", "Startdato", "First day of the activity; the status report counts by it.",
               _required()),
         Field("end_date", "date", "Slutdato", "Last day, for activities over several days (e.g. a course)."),
         Field("region_code", "integer", "Regionskode",
               "The region the activity belongs to; empty for a national (corps-wide) activity."),
         Field("municipality_count", "integer", "Antal kommuner", "Municipalities involved.", COUNT),
         Field("hours", "number", "Timer", "Hours spent (for a course: all sessions together).", COUNT),
         Field("sessions", "integer", "Antal gange", "A course's number of sessions.", COUNT),
         Field("participants", "integer", "Deltagere", "Participants in all.", COUNT),
         Field("participants_municipality", "integer", "Heraf fra kommunen",
               "Of whom from municipalities (job centres).", COUNT),
         Field("participants_psychiatry", "integer", "Heraf fra psykiatrien", "Of whom from psychiatry.", COUNT),
         Field("participants_other", "integer", "Heraf andre", "Of whom from elsewhere.", COUNT),
         Field("participants_staff", "integer", "Heraf medarbejdere", "Of whom staff.", COUNT),
         Field("participants_managers", "integer", "Heraf ledere", "Of whom managers.", COUNT)),
        primary_key=("id",), foreign_keys=(_fk("region_code", "regions", "code"),),
    ),
    Resource(
        "activity_municipalities", "Aktiviteters kommuner", "Which municipalities each activity involved.",
        _activity_municipalities,
        (Field("activity_id", "integer", "Aktivitets-id", "See activities.", _required()), MUNICIPALITY_CODE),
        primary_key=("activity_id", "municipality_code"),
        foreign_keys=(_fk("activity_id", "activities", "id"), _fk("municipality_code", "municipalities", "code")),
    ),
    Resource(
        "activity_centres", "Aktiviteters psykiatriske centre", "Which psychiatric centres each activity involved.",
        _activity_centres,
        (Field("activity_id", "integer", "Aktivitets-id", "See activities.", _required()),
         Field("centre_id", "integer", "Center-id", "See psychiatric_centres.", _required())),
        primary_key=("activity_id", "centre_id"),
        foreign_keys=(_fk("activity_id", "activities", "id"), _fk("centre_id", "psychiatric_centres", "id")),
    ),
    Resource(
        "fidelity_reviews", "Fidelitetsmålinger",
        "IPS fidelity reviews, one per municipality and date, each on one version of a quality-measurement "
        "instrument (instrument_versions; IPS-25 version 1 is the 25-item IPS Supported Employment Fidelity "
        "Scale); item scores in fidelity_item_scores. Team names, reviewers and action plans are left out.",
        _reviews,
        (Field("id", "integer", "Måling-id", "The review's number in the CRM (opaque).", _required()),
         MUNICIPALITY_CODE,
         Field("centre_id", "integer", "Center-id", "The psychiatric centre reviewed with the job centre, if any."),
         Field("review_date", "date", "Dato", "Date of the review.", _required()),
         Field("instrument_version_id", "integer", "Version af måleredskab",
               "The instrument version the review was scored on; see instrument_versions.", _required()),
         Field("complete", "boolean", "Færdig",
               "True when every item is scored; only complete reviews have a total and count in reports.",
               _required()),
         Field("items_scored", "integer", "Scorede punkter", "Items with a score (all of the version's when "
               "complete).", COUNT),
         Field("total", "integer", "Total", "Weighted sum of the item scores (IPS-25: 25–125); empty for a draft.",
               COUNT),
         Field("band", "string", "Niveau",
               "The band of the total in the review's instrument version (IPS-25 v1: " + ", ".join(
                   f"{b.code} {b.min_total}–{b.max_total} ({b.label_en})"
                   for b in bands()) + "); empty for a draft.")),
        primary_key=("id",),
        foreign_keys=(_fk("municipality_code", "municipalities", "code"),
                      _fk("centre_id", "psychiatric_centres", "id"),
                      _fk("instrument_version_id", "instrument_versions", "id")),
    ),
    Resource(
        "instrument_versions", "Måleredskabers versioner",
        "The versions of the quality-measurement instruments the reviews were scored on (draft, active, "
        "retired). Their items are in fidelity_items by key.", _instrument_versions,
        (Field("id", "integer", "Versions-id", "The version's number in the CRM (opaque).", _required()),
         Field("instrument_code", "string", "Måleredskab", "The instrument, e.g. IPS-25.", _required()),
         Field("number", "integer", "Version", "The version's number within its instrument.", _required(minimum=1)),
         Field("state", "string", "Tilstand", "draft, active or retired.",
               _required(enum=["draft", "active", "retired"])),
         Field("activated_on", "date", "Aktiveret", "When the version was made active."),
         Field("retired_on", "date", "Udfaset", "When the version was retired.")),
        primary_key=("id",),
    ),
    Resource(
        "fidelity_items", "Fidelitetsskalaens punkter",
        "The items of the fidelity instruments: the 25 items of the IPS Supported Employment Fidelity Scale "
        "(IPS-25 version 1) with the corps' Danish working names, then any item key a later version added.",
        _fidelity_items,
        (Field("item_key", "string", "Punkt", "Section and number, e.g. Services-4.", _required()),
         Field("section", "string", "Afsnit", "Staffing, Organization or Services.",
               _required(enum=["Staffing", "Organization", "Services"])),
         Field("number", "integer", "Nummer", "The item's number within its section.", _required(minimum=1)),
         Field("name_en", "string", "Navn (engelsk)", "The item's name in the published scale.", _required()),
         Field("name_da", "string", "Navn (dansk)", "The corps' Danish working name.", _required())),
        primary_key=("item_key",),
    ),
    Resource(
        "fidelity_item_scores", "Fidelitetsscorer pr. punkt",
        "The score (1–5) of each item in each review; empty while a draft leaves it unscored. Reviewers' "
        "comments are left out.", _item_scores,
        (Field("review_id", "integer", "Måling-id", "See fidelity_reviews.", _required()),
         Field("item_key", "string", "Punkt", "See fidelity_items.", _required()),
         Field("score", "integer", "Score", "1 (lowest) to 5 (full fidelity).", {"minimum": 1, "maximum": 5})),
        primary_key=("review_id", "item_key"),
        foreign_keys=(_fk("review_id", "fidelity_reviews", "id"), _fk("item_key", "fidelity_items", "item_key")),
    ),
    Resource(
        "outcome_quarters", "Resultater pr. kvartal",
        "STAR's aggregate outcome figures per municipality and quarter: counts of citizens in IPS, never "
        "data about individuals.", _outcomes,
        (MUNICIPALITY_CODE,
         Field("quarter", "string", "Kvartal", "Quarter, e.g. 2025Q3.", _required(pattern="^[0-9]{4}Q[1-4]$")),
         Field("citizens", "integer", "Borgere i IPS", "Citizens in IPS in the municipality in the quarter.",
               _required(**COUNT)),
         Field("with_paid_hours", "integer", "Med løntimer",
               "Of whom with paid working hours in the quarter.", _required(**COUNT)),
         Field("with_employment", "integer", "I beskæftigelse", "Of whom in employment.", _required(**COUNT)),
         Field("with_education", "integer", "I uddannelse", "Of whom in education.", _required(**COUNT)),
         Field("ever_paid_hours_or_education", "integer", "Nogensinde løntimer eller uddannelse",
               "Of whom with paid hours or education at some time since they started in IPS.",
               _required(**COUNT))),
        primary_key=("municipality_code", "quarter"),
        foreign_keys=(_fk("municipality_code", "municipalities", "code"),),
    ),
    Resource(
        "anchoring_items", "Forankringspunkter",
        "The anchoring checklist's items (track 1 of the call): level municipality or region, how each is "
        "kept, and when it applies.", _anchoring_items,
        (Field("code", "string", "Kode", "The item's stable code, e.g. health_cluster.", _required()),
         Field("level", "string", "Niveau", "municipality or region (e.g. the regional health agreement).",
               _required(enum=list(ANCHORING_LEVELS))),
         Field("kind", "string", "Art", "state, counts (departments and clinics), per_year (e.g. the "
               "employment plan) or pipeline (derived from the stage: plan_signed).",
               _required(enum=list(ANCHORING_KINDS))),
         Field("track", "integer", "Spor", "The programme's track (1–4).", _required(minimum=1, maximum=4)),
         Field("position", "integer", "Rækkefølge", "Order on the checklist.", _required()),
         Field("active_from", "date", "Aktiv fra", "First day the item applies (empty: always)."),
         Field("active_to", "date", "Aktiv til", "Last day the item applies (empty: still)."),
         Field("label_en", "string", "Betegnelse (engelsk)", "The item in English.", _required()),
         Field("label_da", "string", "Betegnelse (dansk)", "The item in Danish.", _required())),
        primary_key=("code",),
    ),
    Resource(
        "anchoring_entries", "Forankringsregistreringer",
        "Every recorded state of an anchoring item, dated: a municipality's (or, for region-level items, a "
        "region's) state on a date is its latest entry on or before it. plan_signed is derived from "
        "stage_changes and has no entries. Notes, evidence links and documents and who recorded an entry "
        "are left out; evidence_given says whether there is any.", _anchoring_entries,
        (Field("id", "integer", "Registrerings-id", "The entry's number in the CRM (opaque).", _required()),
         Field("item_code", "string", "Punkt", "See anchoring_items.", _required()),
         REGION_CODE,
         Field("municipality_code", "integer", "Kommunekode", "The municipality; empty for a region-level item."),
         Field("state", "string", "Status", "not_started, in_progress, in_place or not_relevant.",
               _required(enum=list(ANCHORING_STATES))),
         Field("effective_date", "date", "Gælder fra", "The date the state applies from.", _required()),
         Field("year", "integer", "År", "For per-year items: the year the entry is about."),
         Field("departments", "integer", "Jobcenterafdelinger", "For departments_clinics: job-centre "
               "departments working with IPS.", COUNT),
         Field("clinics", "integer", "Ambulatorier", "For departments_clinics: outpatient clinics working with "
               "IPS.", COUNT),
         Field("evidence_given", "boolean", "Dokumentation", "True when a link or document documents the entry.",
               _required())),
        primary_key=("id",),
        foreign_keys=(_fk("item_code", "anchoring_items", "code"), _fk("region_code", "regions", "code"),
                      _fk("municipality_code", "municipalities", "code")),
    ),
)
RESOURCES_BY_NAME = {resource.name: resource for resource in RESOURCES}


# --- Building the package ----------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationPackage:
    """The package's files (path inside the package → bytes) and each resource's row count."""

    files: dict[str, bytes]
    row_counts: dict[str, int]
    created: datetime
    on: date

    @property
    def descriptor(self) -> dict[str, Any]:
        return json.loads(self.files[DESCRIPTOR])

    def zip_bytes(self) -> bytes:
        """The files as one zip (``datapackage.json`` at its root), dated when the package was made."""
        buffer = io.BytesIO()
        stamp = self.created.timetuple()[:6]
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, data in self.files.items():
                info = zipfile.ZipInfo(path, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        return buffer.getvalue()


def _rows(resource: Resource, on: date) -> list[tuple]:
    """The resource's rows: one statement, or the bundled rows."""
    query = resource.query(on)
    if isinstance(query, Select):
        return [tuple(row) for row in db.session.execute(query)]
    return list(query)


def _csv(resource: Resource, rows: list[tuple]) -> bytes:
    """The machine CSV (``,``, ISO dates, decimal point, CRLF), without the byte-order mark that
    the spreadsheet exports carry for Excel: the descriptor says UTF-8."""
    data = csv_bytes([f.name for f in resource.fields], rows)
    return data.removeprefix("\ufeff".encode("utf-8"))


def build_package(now: Optional[datetime] = None, on: Optional[date] = None) -> EvaluationPackage:
    """Every resource's CSV and the descriptor describing them; one statement per resource.

    ``now`` (naive UTC) is the package's ``created`` time, ``on`` the date the municipalities'
    stages are taken on (default: today in Denmark).
    """
    created = (now or utcnow()).replace(microsecond=0)
    on = on or local_today()
    files: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    described = []
    for resource in RESOURCES:
        rows = _rows(resource, on)
        data = _csv(resource, rows)
        files[resource.path] = data
        counts[resource.name] = len(rows)
        described.append({
            "profile": "tabular-data-resource",
            "name": resource.name,
            "path": resource.path,
            "title": resource.title,
            "description": resource.description,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "bytes": len(data),
            "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
            "schema": resource.schema(),
        })
    descriptor = {
        "profile": "tabular-data-package",
        "name": PACKAGE_NAME,
        "title": "IPS-ambassadørkorpset: data til evalueringen",
        "description": (
            "Records of Denmark's IPS ambassador corps for the evaluation of the programme, taken from its CRM "
            f"on {on.isoformat()}: the municipalities and their pipeline stage history, cooperation plans, "
            "activities in the four tracks, IPS fidelity reviews with item scores, and STAR's aggregate outcome "
            "figures. Codes, dates, types, counts, regions and municipalities only: no names, e-mails or phone "
            "numbers of anybody, and no free text. Ids are the CRM's own numbers, opaque, stable between "
            "exports. Each field has a Danish title and an English description."
        ),
        "version": "1.0.0",
        "created": created.isoformat() + "Z",
        "keywords": ["IPS", "Individual Placement and Support", "supported employment", "Denmark", "STAR",
                     "evaluation"],
        "licenses": LICENSES,
        "sources": SOURCES,
        "resources": described,
    }
    files = {DESCRIPTOR: (json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n").encode("utf-8"), **files}
    return EvaluationPackage(files, counts, created, on)


def resource_counts(on: Optional[date] = None) -> dict[str, int]:
    """Each resource's number of rows, all counted in one statement (bundled rows by length)."""
    on = on or local_today()
    queries = {resource.name: resource.query(on) for resource in RESOURCES}
    counted = {name: query for name, query in queries.items() if isinstance(query, Select)}
    counts = {name: len(query) for name, query in queries.items() if not isinstance(query, Select)}
    if counted:
        row = db.session.execute(select(*(
            select(func.count()).select_from(query.order_by(None).subquery()).scalar_subquery().label(name)
            for name, query in counted.items()
        ))).one()
        counts.update(row._mapping)
    return {resource.name: counts[resource.name] for resource in RESOURCES}


def package_filename(package: EvaluationPackage) -> str:
    """ips-evaluering-2026-11-27.zip"""
    return f"ips-evaluering-{package.on.isoformat()}.zip"
