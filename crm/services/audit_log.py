"""The audit log as people read it: Danish labels, formatted values, local time, links to records.

``crm.audit`` stores each change as raw column values (codes, ids, ISO dates); this module turns a
page of those entries into what the log page shows, and parses the page's filters. Names of
referenced records and the links are looked up in one query per kind of record on the page, so a
page costs the same number of queries however many entries it shows.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Mapping, Optional

from sqlalchemy import Boolean, Date, DateTime, Numeric, Select, Time, select
from sqlalchemy.orm import Mapper

from crm.clock import LOCAL_TZ
from crm.formatting import format_date, format_datetime, format_number, format_time, parse_date
from crm.extensions import db
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.i18n import ngettext
from crm.models import (ACTIVITY_TYPES, ANCHORING_KINDS, ANCHORING_LEVELS, ANCHORING_STATES, MATERIAL_KINDS,
                        MATERIAL_STATES, STAGES, VERDICTS, AnchoringItem, AuditEntry, CooperationPlan, Material,
                        Municipality, PsychiatricCentre, Region, TargetGroup, User)
from crm.models.messaging import MAIL_STATUSES, RUN_OUTCOMES
from crm.models.saved_report import FREQUENCIES, PERIOD_RULES
from crm.models.saved_report import RUN_OUTCOMES as SAVED_REPORT_OUTCOMES
from crm.services.materials import HISTORY_LABELS as MATERIAL_MOVES

ACTIONS = {"create": _l("Oprettet"), "update": _l("Ændret"), "delete": _l("Slettet"),
           # A refused sign-in through an identity provider (crm/services/oidc.py).
           "refused": _l("Afvist log ind")}

# Table name -> what the record is called. A table not listed (a newer one) shows its own name.
ENTITY_LABELS = {
    "activity": _l("Aktivitet"),
    "anchoring_entry": _l("Forankring"),
    "anchoring_item": _l("Forankringspunkt"),
    "budget_line": _l("Budgetpost"),
    "budget_version": _l("Budgetversion"),
    "contact": _l("Kontakt"),
    "cooperation_plan": _l("Samarbejdsplan"),
    "cost_line": _l("Udgiftspost"),
    "expense": _l("Udgift"),
    "fidelity_rating": _l("Fidelitetsscore"),
    "fidelity_review": _l("Fidelitetsmåling"),
    "instrument": _l("Måleredskab"),
    "instrument_band": _l("Niveau i måleredskab"),
    "instrument_item": _l("Punkt i måleredskab"),
    "instrument_item_mapping": _l("Kobling mellem punkter"),
    "instrument_version": _l("Version af måleredskab"),
    "job_run": _l("Kørsel"),
    "material": _l("Materiale"),
    "material_comment": _l("Ekspertpanelets kommentar"),
    "material_transition": _l("Materialets statusskift"),
    "material_version": _l("Materialeversion"),
    "municipality": _l("Kommune"),
    "note": _l("Notat"),
    "outbox_attachment": _l("Vedhæftet fil"),
    "outbox_message": _l("E-mail"),
    "outcome_quarter": _l("Kvartalstal"),
    "period_reopening": _l("Genåbning af indsendt periode"),
    "psychiatric_centre": _l("Psykiatrisk enhed"),
    "recovery_code": _l("Gendannelseskode"),
    "region": _l("Region"),
    "region_grant": _l("Tilskud"),
    "report_submission": _l("Indsendt statusrapport"),
    "saved_report": _l("Automatisk rapport"),
    "saved_report_address": _l("Ekstern modtager af automatisk rapport"),
    "saved_report_run": _l("Afsendelse af automatisk rapport"),
    "second_factor": _l("Totrinsbekræftelse"),
    "sign_in_throttle": _l("Forsinkelse af log ind"),
    "user_identity": _l("Konto hos identitetsudbyder"),
    "stage_change": _l("Faseændring"),
    "target_group": _l("Målgruppe"),
    "task": _l("Opgave"),
    "user": _l("Bruger"),
}

# Column or collection name -> label, the same in every table (a name not listed shows itself).
FIELD_LABELS = {
    "opened_at": _l("Genåbnet"),
    "opened_by_id": _l("Genåbnet af"),
    "relocked_at": _l("Låst igen"),
    "relocked_by_id": _l("Låst igen af"),
    "submission_id": _l("Indsendelse"),
    # Second factor (second_factor, recovery_code)
    "code_hash": _l("Gendannelseskode"),
    "enabled_at": _l("Slået til"),
    "last_used_step": _l("Sidst brugte kode (tidstrin)"),
    "recovery_codes_issued_at": _l("Gendannelseskoder udstedt"),
    "reset_reason": _l("Begrundelse for nulstilling"),
    "totp_enabled": _l("Totrinsbekræftelse"),
    "totp_secret": _l("Hemmelig nøgle"),
    "used_at": _l("Brugt"),
    "user_id": _l("Bruger"),
    "blocked_until": _l("Spærret til"),
    "csv_data": _l("CSV-fil"),
    "data": _l("Indhold"),
    "done_at": _l("Udført"),
    "done_by_id": _l("Udført af"),
    "due_date": _l("Frist"),
    "failures": _l("Fejlede forsøg"),
    "last_failure_at": _l("Seneste fejlede forsøg"),
    "message_id": _l("E-mail"),
    "note_kind": _l("Automatisk notat"),
    "note_params": _l("Automatisk notats oplysninger"),
    "owner_id": _l("Ansvarlig"),
    "session_token": _l("Sessionsnøgle"),
    "xlsx_data": _l("XLSX-fil"),
    "activated_on": _l("Aktiveret"),
    "allowed_values": _l("Tilladte værdier"),
    "created_on": _l("Oprettet den"),
    "from_item_id": _l("Fra punkt"),
    "instrument_id": _l("Måleredskab"),
    "instrument_version_id": _l("Version af måleredskab"),
    "label": _l("Betegnelse"),
    "label_da": _l("Betegnelse (dansk)"),
    "label_en": _l("Betegnelse (engelsk)"),
    "lower_total": _l("Nedre samlet score"),
    "max_score": _l("Højeste score"),
    "min_score": _l("Laveste score"),
    "name_da": _l("Navn (dansk)"),
    "name_en": _l("Navn (engelsk)"),
    "number": _l("Nummer"),
    "position": _l("Rækkefølge"),
    "retired_on": _l("Udfaset"),
    "section": _l("Afsnit"),
    "to_item_id": _l("Til punkt"),
    "upper_total": _l("Øvre samlet score"),
    "weight": _l("Vægt"),
    "action_plan": _l("Handleplan"),
    "action": _l("Handling"),
    "actor_id": _l("Udført af"),
    "at": _l("Tidspunkt"),
    "author_id": _l("Skrevet af"),
    "author_users": _l("Forfattere med brugerkonto"),
    "authors_text": _l("Andre forfattere"),
    "from_state": _l("Fra status"),
    "kind": _l("Type"),
    "material_id": _l("Materiale"),
    "material_version_id": _l("Materialeversion"),
    "published_on": _l("Først udgivet"),
    "regions": _l("Regioner"),
    "state": _l("Status"),
    "summary": _l("Beskrivelse"),
    "to_state": _l("Til status"),
    "track": _l("Spor"),
    "verdict": _l("Ekspertpanelets vurdering"),
    "verdict_at": _l("Vurderet"),
    "verdict_by_id": _l("Vurderet af"),
    "verdict_note": _l("Begrundelse for vurderingen"),
    "version_number": _l("Version"),
    "active": _l("Aktiv"),
    "attachment_mimetype": _l("Filtype"),
    "attachment_name": _l("Vedhæftet fil"),
    "attachment_size": _l("Filstørrelse"),
    "attempts": _l("Forsøg"),
    "body": _l("Tekst"),
    "calendar_token": _l("Kalenderlink"),
    "centre_id": _l("Psykiatrisk enhed"),
    "centres": _l("Psykiatriske enheder"),
    "citizens": _l("Borgere"),
    "claimed_at": _l("Taget i arbejde"),
    "code": _l("Kode"),
    "comment": _l("Kommentar"),
    "created_at": _l("Oprettet"),
    "created_by_id": _l("Oprettet af"),
    "detail": _l("Detaljer"),
    "digest_enabled": _l("Dagligt overblik"),
    "document_file": _l("Dokumentfil"),
    "document_name": _l("Dokument"),
    "effective_date": _l("Dato"),
    "email": _l("E-mail"),
    "end_date": _l("Slutdato"),
    "end_time": _l("Sluttidspunkt"),
    "ever_paid_hours_or_education": _l("Nogensinde ordinære timer eller uddannelse"),
    "failed_logins": _l("Mislykkede logins"),
    "issuer": _l("Identitetsudbyder (issuer)"),
    "linked_at": _l("Koblet"),
    "last_sign_in_at": _l("Seneste log ind"),
    "provider": _l("Udbyder"),
    "address": _l("IP-adresse"),
    "figures": _l("Tal"),
    "finished_at": _l("Afsluttet"),
    "health_agreement": _l("Sundhedsaftale"),
    "health_cluster": _l("Sundhedsklynge"),
    "hours": _l("Varighed i timer"),
    "id": _l("Id"),
    "import_key": _l("Importnøgle"),
    "imported_at": _l("Importeret"),
    "item_key": _l("Punkt"),
    "job": _l("Job"),
    "key": _l("Nøgle"),
    "last_attempt_at": _l("Seneste forsøg"),
    "last_error": _l("Seneste fejl"),
    "link": _l("Link"),
    "locale": _l("Sprog"),
    "location": _l("Sted"),
    "locked_until": _l("Låst indtil"),
    "municipalities": _l("Kommuner"),
    "municipality_code": _l("Kommune"),
    "name": _l("Navn"),
    "next_step": _l("Næste skridt"),
    "next_step_due": _l("Frist for næste skridt"),
    "next_step_owner_id": _l("Ansvarlig for næste skridt"),
    "note": _l("Note"),
    "note_date": _l("Dato"),
    "organisation": _l("Organisation"),
    "outcome": _l("Resultat"),
    "participants": _l("Deltagere"),
    "participants_managers": _l("Deltagere, ledere"),
    "participants_municipality": _l("Deltagere fra kommunen"),
    "participants_other": _l("Andre deltagere"),
    "participants_psychiatry": _l("Deltagere fra psykiatrien"),
    "participants_staff": _l("Deltagere, medarbejdere"),
    "password_hash": _l("Adgangskode"),
    "period_end": _l("Periodens slutning"),
    "period_start": _l("Periodens start"),
    "phone": _l("Telefon"),
    "quarter": _l("Kvartal"),
    "ratings": _l("Scorer"),
    "recipient": _l("Modtager"),
    "recorded_at": _l("Registreret"),
    "recorded_by_id": _l("Registreret af"),
    "region_code": _l("Region"),
    "review_date": _l("Målingsdato"),
    "review_id": _l("Fidelitetsmåling"),
    "reviewers": _l("Bedømmere"),
    "role": _l("Rolle"),
    "run_key": _l("Kørselsnøgle"),
    "score": _l("Score"),
    "sent_at": _l("Sendt"),
    "sessions": _l("Antal gange"),
    "signed_date": _l("Underskrevet"),
    "stage": _l("Fase"),
    "start_date": _l("Dato"),
    "start_time": _l("Starttidspunkt"),
    "started_at": _l("Startet"),
    "status": _l("Status"),
    "subject": _l("Emne"),
    "submitted_at": _l("Indsendt"),
    "submitted_by_id": _l("Indsendt af"),
    "target_groups": _l("Målgrupper"),
    "team": _l("Team"),
    "text": _l("Tekst"),
    "title": _l("Titel"),
    "total": _l("Samlet score"),
    "triggered_by": _l("Startet af"),
    "type": _l("Type"),
    "updated_at": _l("Ændret"),
    "updated_by_id": _l("Ændret af"),
    "valid_from": _l("Gælder fra"),
    "valid_to": _l("Gælder til"),
    "with_education": _l("I uddannelse"),
    "with_employment": _l("I beskæftigelse"),
    "with_paid_hours": _l("Med ordinære løntimer"),
    # The anchoring checklist (crm/models/anchoring.py).
    "active_from": _l("Aktiv fra"),
    "active_to": _l("Aktiv til"),
    "clinics": _l("Ambulatorier"),
    "departments": _l("Jobcenterafdelinger"),
    "evidence_file": _l("Dokumentationsfil"),
    "evidence_name": _l("Dokumentation"),
    "evidence_url": _l("Link til dokumentation"),
    "anchoring_item_id": _l("Forankringspunkt"),
    "level": _l("Niveau"),
    "year": _l("År"),
    # The grant side (crm/models/grant.py).
    "activity_id": _l("Aktivitet"),
    "amount_ore": _l("Beløb"),
    "approved_on": _l("Godkendt"),
    "cost_line_id": _l("Udgiftspost"),
    "description": _l("Beskrivelse"),
    "guidance": _l("Vejledning"),
    "project_end": _l("Projektperiodens slutning"),
    "project_start": _l("Projektperiodens start"),
    "reason": _l("Begrundelse"),
    "reference": _l("Journalnummer"),
    "revised_on": _l("Revisionsdato"),
    "source": _l("Kilde"),
    "spent_on": _l("Bogføringsdato"),
    "version_id": _l("Budgetversion"),
    "voucher": _l("Bilag"),
    # Saved reports that send themselves (crm/models/saved_report.py).
    "addresses": _l("Eksterne modtagere"),
    "approved_at": _l("Godkendt"),
    "approved_by_id": _l("Godkendt af"),
    "day": _l("Dag i måneden"),
    "due_at": _l("Planlagt tidspunkt"),
    "format": _l("Filformat"),
    "frequency": _l("Hyppighed"),
    "hour": _l("Klokkeslæt (time)"),
    "message_ids": _l("E-mails"),
    "period_rule": _l("Periode"),
    "proposed_at": _l("Foreslået"),
    "proposed_by_id": _l("Foreslået af"),
    "recipients": _l("Modtagere"),
    "saved_report_id": _l("Automatisk rapport"),
    "schedule_from": _l("Planen gælder fra"),
    "weekday": _l("Ugedag"),
}

ROLE_LABELS = {"ambassador": _l("Ambassadør"), "working_group": _l("Arbejdsgruppe"), "admin": _l("Administrator"),
               "expert_panel": _l("Ekspertpanel")}
LANGUAGE_LABELS = {"da": "Dansk", "en": "English"}
# (table, column) -> labels of the codes stored in it.
CODE_LABELS: dict[tuple[str, str], Mapping[str, Any]] = {
    ("stage_change", "stage"): STAGES,
    ("activity", "type"): {code: label for code, (label, _track) in ACTIVITY_TYPES.items()},
    ("user", "role"): ROLE_LABELS,
    ("user", "locale"): LANGUAGE_LABELS,
    ("second_factor", "totp_enabled"): {True: _l("slået til"), False: _l("slået fra")},
    ("outbox_message", "status"): MAIL_STATUSES,
    ("job_run", "outcome"): RUN_OUTCOMES,
    ("saved_report", "frequency"): FREQUENCIES,
    ("saved_report", "period_rule"): PERIOD_RULES,
    ("saved_report_run", "outcome"): SAVED_REPORT_OUTCOMES,
    ("task", "status"): {"open": _l("Åben"), "done": _l("Udført")},
    ("material", "state"): MATERIAL_STATES,
    ("material", "kind"): MATERIAL_KINDS,
    ("material_version", "verdict"): VERDICTS,
    ("material_transition", "from_state"): MATERIAL_STATES,
    ("material_transition", "to_state"): MATERIAL_STATES,
    ("material_transition", "action"): MATERIAL_MOVES,
    ("anchoring_entry", "state"): ANCHORING_STATES,
    ("anchoring_item", "level"): ANCHORING_LEVELS,
    ("anchoring_item", "kind"): ANCHORING_KINDS,
}

# Referenced tables whose records are shown by name: table -> (model, key column, name column).
NAMED = {
    "user": (User, User.id, User.display_name),
    "municipality": (Municipality, Municipality.code, Municipality.name),
    "region": (Region, Region.code, Region.name),
    "psychiatric_centre": (PsychiatricCentre, PsychiatricCentre.id, PsychiatricCentre.name),
    "target_group": (TargetGroup, TargetGroup.id, TargetGroup.name),
    "cooperation_plan": (CooperationPlan, CooperationPlan.id, CooperationPlan.title),
    "material": (Material, Material.id, Material.title),
    "anchoring_item": (AnchoringItem, AnchoringItem.id, AnchoringItem.label_da),
}
# Collections (as crm.audit logs them: identities removed and added) -> the table they hold.
COLLECTIONS = {"municipalities": "municipality", "centres": "psychiatric_centre", "target_groups": "target_group",
               "regions": "region", "author_users": "user", "recipients": "user"}

# Where a record is shown: table -> (endpoint, URL argument, column holding the argument's value).
LINKS = {
    "anchoring_entry": ("municipalities.detail", "code", "municipality_code"),
    "anchoring_item": ("anchoring.item_edit", "anchoring_item_id", "id"),
    "activity": ("activities.detail", "activity_id", "id"),
    "contact": ("contacts.edit", "contact_id", "id"),
    "cooperation_plan": ("plans.detail", "plan_id", "id"),
    "fidelity_review": ("fidelity.detail", "review_id", "id"),
    "fidelity_rating": ("fidelity.detail", "review_id", "review_id"),
    "municipality": ("municipalities.detail", "code", "code"),
    "note": ("municipalities.detail", "code", "municipality_code"),
    "stage_change": ("municipalities.detail", "code", "municipality_code"),
    "task": ("municipalities.detail", "code", "municipality_code"),
    "outcome_quarter": ("municipalities.detail", "code", "municipality_code"),
    "outbox_message": ("jobs.message", "message_id", "id"),
    "psychiatric_centre": ("admin.centre_edit", "centre_id", "id"),
    "report_submission": ("reports.submission_detail", "submission_id", "id"),
    "period_reopening": ("reports.submission_detail", "submission_id", "submission_id"),
    "saved_report": ("saved_reports.detail", "saved_report_id", "id"),
    "saved_report_address": ("saved_reports.detail", "saved_report_id", "saved_report_id"),
    "saved_report_run": ("saved_reports.detail", "saved_report_id", "saved_report_id"),
    "user": ("admin.user_edit", "user_id", "id"),
    "second_factor": ("admin.user_edit", "user_id", "user_id"),
    "material": ("materials.detail", "material_id", "id"),
    "material_version": ("materials.detail", "material_id", "material_id"),
    "material_transition": ("materials.detail", "material_id", "material_id"),
}


@dataclass
class FieldChange:
    """One field of an entry: ``old`` is None for a created or deleted record's values."""

    label: str
    new: str
    old: Optional[str] = None


@dataclass
class AuditRow:
    """One entry as shown: what, by whom, when (Danish time), the changed fields and a link."""

    entry: AuditEntry
    at: str
    entity_label: str
    action_label: str
    changes: list[FieldChange] = field(default_factory=list)
    link: Optional[tuple[str, dict[str, Any]]] = None  # (endpoint, arguments) while the record exists


# --- Filters -----------------------------------------------------------------------------------


@dataclass
class AuditFilters:
    """The log page's filters, read from the query string; ``errors`` (by field) are for the user
    and the filter they concern is not applied."""

    user_id: Optional[int] = None
    actor: str = ""
    entity: str = ""
    entity_id: str = ""
    action: str = ""
    date_from: Optional[date] = None
    date_to: Optional[date] = None
    raw: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "AuditFilters":
        raw = {k: (args.get(k) or "").replace("\x00", "").strip()[:60]
               for k in ("user", "actor", "entity", "entity_id", "action", "date_from", "date_to")}
        filters = cls(actor=raw["actor"], entity=raw["entity"], entity_id=raw["entity_id"], raw=raw)
        if raw["action"] in ACTIONS:
            filters.action = raw["action"]
        elif raw["action"]:
            filters.errors["action"] = _("Ukendt handling.")
        if raw["user"].isdigit():
            filters.user_id = int(raw["user"])
        elif raw["user"]:
            filters.errors["user"] = _("Vælg en bruger på listen.")
        if raw["entity_id"] and not raw["entity"]:
            filters.errors["entity_id"] = _("Vælg også typen af post; et id er kun entydigt inden for sin type.")
            filters.entity_id = ""
        for name in ("date_from", "date_to"):
            if raw[name]:
                parsed = parse_date(raw[name])
                if parsed is None:
                    filters.errors[name] = _("Ugyldig dato. Skriv den som dd-mm-åååå, fx 23-11-2026.")
                setattr(filters, name, parsed)
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            filters.errors["date_to"] = _("Perioden slutter før den begynder.")
            filters.date_from = filters.date_to = None
        return filters

    def as_args(self) -> dict[str, str]:
        """The filters as given, as query arguments (for the page links)."""
        return {name: value for name, value in self.raw.items() if value}

    def apply(self, query: Select) -> Select:
        """``query`` (over AuditEntry) narrowed by the valid filters; days are Danish days."""
        from crm.services.search import LIKE_ESCAPE, contains_pattern

        if self.user_id is not None:
            query = query.where(AuditEntry.user_id == self.user_id)
        if self.actor:
            query = query.where(AuditEntry.actor.ilike(contains_pattern(self.actor), escape=LIKE_ESCAPE))
        if self.entity:
            query = query.where(AuditEntry.entity == self.entity)
        if self.entity_id:
            query = query.where(AuditEntry.entity_id == self.entity_id)
        if self.action:
            query = query.where(AuditEntry.action == self.action)
        if self.date_from:
            query = query.where(AuditEntry.at >= _utc_midnight(self.date_from))
        if self.date_to:
            query = query.where(AuditEntry.at < _utc_midnight(self.date_to + timedelta(days=1)))
        return query


def _utc_midnight(day: date) -> datetime:
    """The start of a Danish day as the naive UTC the log stores."""
    from datetime import timezone

    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ).astimezone(timezone.utc).replace(tzinfo=None)


def entity_choices() -> list[tuple[str, str]]:
    """(table, label) for the type filter: every audited table (read from the models, so the page
    needs no scan of the log), by label."""
    tables = set(_mappers()) - {"audit_log"}
    return sorted(((t, entity_label(t)) for t in tables), key=lambda item: item[1].lower())


def entity_label(table: str) -> str:
    return str(ENTITY_LABELS.get(table, table))


def field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name))


# --- Rows --------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _mappers() -> dict[str, Mapper]:
    return {mapper.local_table.name: mapper for mapper in db.Model.registry.mappers}


def _column(table: str, name: str):
    mapper = _mappers().get(table)
    if mapper is None or name not in mapper.columns:
        return None
    return mapper.columns[name]


def _references(table: str, name: str) -> Optional[str]:
    """The table a column points to (for names), or the table a logged collection holds."""
    if name in COLLECTIONS:
        return COLLECTIONS[name]
    column = _column(table, name)
    if column is None:
        return None
    for foreign_key in column.foreign_keys:
        if foreign_key.column.table.name in NAMED:
            return foreign_key.column.table.name
    return None


def describe(entries: list[AuditEntry]) -> list[AuditRow]:
    """The page's entries as shown, with names and links looked up once per kind of record."""
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        for name, value in (entry.changes or {}).items():
            target = _references(entry.entity, name)
            if target:
                for item in _flatten(value):
                    wanted.setdefault(target, set()).add(str(item))
    names = _names(wanted)
    links = _links(entries)
    return [_row(entry, names, links) for entry in entries]


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [item for part in value for item in _flatten(part)]
    return [] if value is None else [value]


def _names(wanted: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    """(table, key) -> name for the referenced records: one query per table."""
    found: dict[tuple[str, str], str] = {}
    for table, keys in wanted.items():
        model, key_column, *name_columns = NAMED[table]
        ids = [int(k) for k in keys if k.lstrip("-").isdigit()]
        if not ids:
            continue
        for key, *values in db.session.execute(select(key_column, *name_columns).where(key_column.in_(ids))):
            found[(table, str(key))] = next((v for v in values if v), str(key))
    return found


def _links(entries: list[AuditEntry]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(table, record id) -> where the record is shown, for the records that still exist: one query
    per kind of record on the page."""
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        if entry.entity in LINKS and entry.entity_id.isdigit():
            wanted.setdefault(entry.entity, set()).add(entry.entity_id)
    found = {}
    for table, ids in wanted.items():
        endpoint, argument, source = LINKS[table]
        mapper = _mappers()[table]
        key_column = mapper.primary_key[0]
        query = select(key_column, mapper.columns[source]).where(key_column.in_([int(i) for i in ids]))
        for key, value in db.session.execute(query):
            if value is not None:  # a region-level anchoring entry has no municipality to link to
                found[(table, str(key))] = (endpoint, {argument: value})
    return found


def _row(entry: AuditEntry, names: dict, links: dict) -> AuditRow:
    row = AuditRow(entry=entry, at=format_datetime(entry.at), entity_label=entity_label(entry.entity),
                   action_label=str(ACTIONS.get(entry.action, entry.action)),
                   link=links.get((entry.entity, entry.entity_id)))
    for name, value in (entry.changes or {}).items():
        if name == "id":  # the record column says it
            continue
        label = field_label(name)
        if name in COLLECTIONS and entry.action == "update" and isinstance(value, list) and len(value) == 2:
            removed, added = (_collection(entry.entity, name, part, names) for part in value)
            parts = ([_("fjernet: %(names)s", names=removed)] if removed else []) + \
                ([_("tilføjet: %(names)s", names=added)] if added else [])
            row.changes.append(FieldChange(label, "; ".join(parts)))
        elif entry.action == "update" and isinstance(value, list) and len(value) == 2:
            row.changes.append(FieldChange(label, format_value(entry.entity, name, value[1], names),
                                           format_value(entry.entity, name, value[0], names)))
        else:
            row.changes.append(FieldChange(label, format_value(entry.entity, name, value, names)))
    return row


def _collection(table: str, name: str, items: Any, names: dict) -> str:
    return ", ".join(format_value(table, name, item, names) for item in _flatten(items))


def format_value(table: str, name: str, value: Any, names: Optional[dict] = None) -> str:
    """One logged value the way people read it: Ja/Nej, 23-11-2026, 14:05, a name for an id, a
    label for a code; "—" for nothing."""
    if value is None or value == "":
        return "—"
    target = _references(table, name)
    if target is not None and names is not None and (target, str(value)) in names:
        return names[(target, str(value))]
    labels = CODE_LABELS.get((table, name))
    if labels is not None and value in labels:
        return str(labels[value])
    column = _column(table, name)
    kind = column.type if column is not None else None
    try:
        if isinstance(kind, Boolean) or isinstance(value, bool):
            return _("Ja") if value else _("Nej")
        if isinstance(kind, DateTime):
            return format_datetime(datetime.fromisoformat(str(value)))
        if isinstance(kind, Date):
            return format_date(date.fromisoformat(str(value)[:10]))
        if isinstance(kind, Time):
            return format_time(time.fromisoformat(str(value)))
        if isinstance(kind, Numeric):
            return format_number(Decimal(str(value)))
    except (ValueError, InvalidOperation):
        pass
    if isinstance(value, (dict, list)):
        return ngettext("(%(num)s værdi)", "(%(num)s værdier)", len(value))
    return str(value)
