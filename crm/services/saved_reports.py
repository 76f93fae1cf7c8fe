"""Saved reports that send themselves: which report, for which period and region, in which file
format, when, and to whom; producing one and sending it through the outbox.

Kinds are a small registry (``KINDS``): each entry says how to build the CSV and XLSX of a period
and region and which print template (with which context) makes its PDF. The PDF itself is made on
the web side: services build no markup, so the app registers a renderer
(``crm.views.saved_reports`` puts ``render_pdf(kind, start, end, region_code)`` in
``app.extensions[PDF_RENDERER]``), which renders the kind's print template and converts it with
WeasyPrint. The scheduler process creates the same app, so it has the same renderer.

Schedules are explicit and in Copenhagen wall-clock time: weekly on a weekday, monthly on day N
(1–28), or half-yearly on day N of January and July, at an hour. The run of one due time is unique
(``SavedReportRun`` (report, run key), the key being the local due time): two scheduler processes,
a second tick, or the autumn DST hour that happens twice, all produce and send it once.
"""
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable, Iterable, Optional

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from crm.clock import LOCAL_TZ
from crm.extensions import db
from crm.formatting import format_date, half_year_period, last_completed_half, period_label
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from crm.i18n import ngettext
from crm.models import Region, User
from crm.models.mixins import utcnow
from crm.models.saved_report import (
    FORMATS,
    FREQ_HALFYEARLY,
    FREQ_MONTHLY,
    FREQ_WEEKLY,
    FREQUENCIES,
    KIND_ACCOUNTS,
    KIND_STATUS,
    PERIOD_CURRENT_HALF,
    PERIOD_LAST_HALF,
    PERIOD_LAST_YEAR,
    PERIOD_RULES,
    RUN_FAILED,
    RUN_OK,
    RUN_RUNNING,
    RUN_SKIPPED,
    SavedReport,
    SavedReportAddress,
    SavedReportRun,
)
from crm.services import mail
from crm.services.errors import FieldError, Forbidden
from crm.services.locking import commit_versioned, ensure_version, mark_updated
from crm.services.permissions import (
    can_approve_addresses,
    can_create_saved_report,
    ensure_can_approve_addresses,
    ensure_can_manage_saved_report,
)

log = logging.getLogger("crm.saved_reports")

PDF_RENDERER = "crm.saved_report_pdf"
CSV_MIMETYPE = "text/csv"
PDF_MIMETYPE = "application/pdf"
MIMETYPES = {"xlsx": mail.XLSX_MIMETYPE, "csv": CSV_MIMETYPE, "pdf": PDF_MIMETYPE}
WEEKDAYS = (_l("mandag"), _l("tirsdag"), _l("onsdag"), _l("torsdag"), _l("fredag"), _l("lørdag"), _l("søndag"))
HALF_YEAR_MONTHS = (1, 7)  # a half-yearly report goes out in the month after each half ends
MAX_DAY = 28  # every month has it
SCAN_DAYS = 190  # > the longest gap between two due days (half-yearly: 184 days)


# --- The kinds of report ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReportKind:
    """How to make one kind of report for a period and a region (None: national).

    ``print_template`` and ``print_context`` are what the web side renders for the PDF (the
    same template as the kind's print view).
    """

    key: str
    label: object
    build_csv: Callable[[date, date, Optional[int]], bytes]
    build_xlsx: Callable[[date, date, Optional[int]], bytes]
    filename: Callable[[date, date, Optional[int], str], str]
    print_template: str
    print_context: Callable[[date, date, Optional[int]], dict]
    title: Callable[[date, date], str]


def _status(start: date, end: date, region_code: Optional[int]):
    from crm.services import report

    figures = report.status_report(start, end)
    return report.only_region(figures, region_code) if region_code else figures


def _status_csv(start: date, end: date, region_code: Optional[int]) -> bytes:
    """The report table in the Danish Excel dialect (people open it), the same rows as STAR's CSV."""
    from crm.services import report

    return report.report_to_excel_csv(_status(start, end, region_code))


def _status_xlsx(start: date, end: date, region_code: Optional[int]) -> bytes:
    from crm.services import report

    return report.report_to_xlsx(_status(start, end, region_code))


def _status_filename(start: date, end: date, region_code: Optional[int], fmt: str) -> str:
    scope = f"-region-{region_code}" if region_code else ""
    return f"statusrapport-{start.isoformat()}-{end.isoformat()}{scope}.{fmt}"


def _status_print_context(start: date, end: date, region_code: Optional[int]) -> dict:
    """What ``reports/print.html`` needs (as the print view gives it)."""
    from crm.services import report

    names = report.column_names()
    figures = _status(start, end, region_code)
    return {"report": figures, "submission": None, "printed_at": utcnow(), "column_names": names,
            "columns": report.display_order(figures.columns), "total": report.TOTAL}


def _status_title(start: date, end: date) -> str:
    return _("Statusrapport til STAR: %(period)s", period=period_label(start, end))


def _accounts(start: date, end: date, region_code: Optional[int]):
    """The partial accounts of the half-year the period ends in (a year's rule gives its second
    half, whose cumulative columns run to the year's end)."""
    from crm.services import grant_accounts

    return grant_accounts.partial_accounts(end.year, 1 if end.month <= 6 else 2, region_code)


def _accounts_csv(start: date, end: date, region_code: Optional[int]) -> bytes:
    from crm.services import grant_accounts

    return grant_accounts.accounts_to_csv(_accounts(start, end, region_code))


def _accounts_xlsx(start: date, end: date, region_code: Optional[int]) -> bytes:
    from crm.services import grant_accounts

    return grant_accounts.accounts_to_xlsx(_accounts(start, end, region_code))


def _accounts_filename(start: date, end: date, region_code: Optional[int], fmt: str) -> str:
    from crm.services import grant_accounts

    return grant_accounts.accounts_filename(_accounts(start, end, region_code), fmt)


def _accounts_print_context(start: date, end: date, region_code: Optional[int]) -> dict:
    from crm.services import grant_accounts

    return grant_accounts.print_context(_accounts(start, end, region_code), utcnow())


def _accounts_title(start: date, end: date) -> str:
    return _("Delregnskab: %(period)s", period=period_label(*half_year_period(end.year, 1 if end.month <= 6 else 2)))


KINDS: dict[str, ReportKind] = {
    KIND_STATUS: ReportKind(KIND_STATUS, _l("Statusrapport til STAR"), _status_csv, _status_xlsx,
                            _status_filename, "reports/print.html", _status_print_context, _status_title),
    KIND_ACCOUNTS: ReportKind(KIND_ACCOUNTS, _l("Delregnskab (budget og forbrug)"), _accounts_csv, _accounts_xlsx,
                              _accounts_filename, "grant_accounts/print.html", _accounts_print_context,
                              _accounts_title),
}


def kind_choices() -> list[tuple[str, str]]:
    return [(key, str(kind.label)) for key, kind in KINDS.items()]


def kind_label(key: str) -> str:
    kind = KINDS.get(key)
    return str(kind.label) if kind else key


# --- Periods ---------------------------------------------------------------------------------


def period_for(rule: str, today: date) -> tuple[date, date]:
    """The period a rule names on ``today`` (the due day). ValueError for an unknown rule."""
    if rule == PERIOD_LAST_HALF:
        return half_year_period(*last_completed_half(today))
    if rule == PERIOD_CURRENT_HALF:
        start, _end = half_year_period(today.year, 1 if today.month <= 6 else 2)
        return start, today
    if rule == PERIOD_LAST_YEAR:
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    raise ValueError(f"unknown period rule {rule!r}")


# --- Schedules -------------------------------------------------------------------------------


def local(moment: datetime) -> datetime:
    """``moment`` as an aware Copenhagen time (naive: taken as already local)."""
    return moment.replace(tzinfo=LOCAL_TZ) if moment.tzinfo is None else moment.astimezone(LOCAL_TZ)


def utc_naive(moment: datetime) -> datetime:
    from datetime import timezone

    return local(moment).astimezone(timezone.utc).replace(tzinfo=None)


def is_due_day(report: SavedReport, day: date) -> bool:
    """Is ``day`` one of the report's sending days?"""
    if report.frequency == FREQ_WEEKLY:
        return day.weekday() == report.weekday
    if report.frequency == FREQ_MONTHLY:
        return day.day == report.day
    if report.frequency == FREQ_HALFYEARLY:
        return day.month in HALF_YEAR_MONTHS and day.day == report.day
    return False


def due_moment(report: SavedReport, day: date) -> datetime:
    """The sending time on ``day``: ``hour`` o'clock Copenhagen time. In the autumn hour that
    happens twice it is the first; in the spring hour that does not exist, the same instant an
    hour later (03:00 summer time for 02:00)."""
    return datetime(day.year, day.month, day.day, report.hour, tzinfo=LOCAL_TZ)


def run_key(report: SavedReport, day: date) -> str:
    """The due time as wall-clock text, the same whichever process or DST offset computes it."""
    return f"{day.isoformat()}T{report.hour:02d}"


def last_due(report: SavedReport, now: datetime) -> Optional[tuple[date, datetime]]:
    """(day, moment) of the latest sending time at or before ``now``; None if none within the scan."""
    now = local(now)
    for back in range(SCAN_DAYS):
        day = now.date() - timedelta(days=back)
        if is_due_day(report, day) and due_moment(report, day) <= now:
            return day, due_moment(report, day)
    return None


def next_due(report: SavedReport, now: datetime) -> Optional[datetime]:
    """The next sending time after ``now`` (for the page)."""
    now = local(now)
    for ahead in range(SCAN_DAYS):
        day = now.date() + timedelta(days=ahead)
        if is_due_day(report, day) and due_moment(report, day) > now:
            return due_moment(report, day)
    return None


def schedule_text(report: SavedReport) -> str:
    """'Månedligt den 10. kl. 07:00' and the like."""
    at = f"{report.hour:02d}:00"
    if report.frequency == FREQ_WEEKLY:
        return _("Hver %(weekday)s kl. %(at)s", weekday=WEEKDAYS[report.weekday % 7], at=at)
    if report.frequency == FREQ_MONTHLY:
        return _("Månedligt den %(day)s. kl. %(at)s", day=report.day, at=at)
    return _("Den %(day)s. januar og den %(day)s. juli kl. %(at)s", day=report.day, at=at)


def due_now(report: SavedReport, now: datetime) -> Optional[tuple[str, datetime]]:
    """(run key, due moment) when ``report`` has a sending time not yet before ``schedule_from``
    at or before ``now``, else None (whether it ran is the lock's business)."""
    if not report.active:
        return None
    found = last_due(report, now)
    if found is None:
        return None
    day, moment = found
    if utc_naive(moment) < report.schedule_from:
        return None  # due before it was created, rescheduled or switched on
    return run_key(report, day), moment


def _active_reports() -> list[SavedReport]:
    return list(db.session.scalars(select(SavedReport).where(SavedReport.active.is_(True)).order_by(SavedReport.id)))


def _done_keys(report_ids: Iterable[int]) -> set[tuple[int, str]]:
    ids = list(report_ids)
    if not ids:
        return set()
    rows = db.session.execute(
        select(SavedReportRun.saved_report_id, SavedReportRun.run_key).where(SavedReportRun.saved_report_id.in_(ids)))
    return {(report_id, key) for report_id, key in rows}


def due_reports(now: datetime) -> list[tuple[SavedReport, str, datetime]]:
    """Active reports with a due time that has no run yet (two queries)."""
    candidates = [(report, *due) for report in _active_reports() if (due := due_now(report, now)) is not None]
    done = _done_keys(report.id for report, _key, _moment in candidates)
    return [(report, key, moment) for report, key, moment in candidates if (report.id, key) not in done]


# --- Producing and sending -------------------------------------------------------------------


def build_file(report: SavedReport, start: date, end: date) -> tuple[str, str, bytes]:
    """(file name, MIME type, bytes) of ``report`` for the period."""
    kind = KINDS.get(report.kind)
    if kind is None:
        raise ValueError(_("Ukendt rapporttype: %(kind)s", kind=report.kind))
    fmt = report.format
    if fmt == "csv":
        data = kind.build_csv(start, end, report.region_code)
    elif fmt == "xlsx":
        data = kind.build_xlsx(start, end, report.region_code)
    elif fmt == "pdf":
        renderer = current_app.extensions.get(PDF_RENDERER)
        if renderer is None:
            raise RuntimeError("no PDF renderer registered")
        data = renderer(kind, start, end, report.region_code)
    else:
        raise ValueError(_("Ukendt filformat: %(format)s", format=fmt))
    return kind.filename(start, end, report.region_code, fmt), MIMETYPES[fmt], data


@dataclass
class Recipients:
    """Who gets a run: active users with an address and the approved external addresses."""

    emails: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # external addresses not approved yet


def recipients_of(report: SavedReport) -> Recipients:
    seen: dict[str, str] = {}
    for user in report.recipients:
        if user.active and user.email:
            seen.setdefault(user.email.strip().lower(), user.email.strip())
    waiting = []
    for address in report.addresses:
        if address.approved:
            seen.setdefault(address.email.lower(), address.email)
        else:
            waiting.append(address.email)
    return Recipients(list(seen.values()), waiting)


def scope_label(report: SavedReport) -> str:
    return report.region.name if report.region is not None else _("Hele landet")


def _message_text(report: SavedReport, start: date, end: date, filename: str) -> tuple[str, str]:
    kind = KINDS[report.kind]
    subject = _("IPS CRM: %(name)s – %(period)s", name=report.name, period=period_label(start, end))
    body = "\n".join([
        _("Hej"),
        "",
        _("Vedhæftet er %(title)s (%(scope)s), %(start)s–%(end)s, som filen %(file)s.",
          title=kind.title(start, end), scope=scope_label(report), start=format_date(start),
          end=format_date(end), file=filename),
        _("Tallene er optalt, da e-mailen blev lavet."),
        "",
        _("Rapporten sendes automatisk: %(schedule)s.", schedule=schedule_text(report)),
        _("Se og ret de automatiske rapporter her: %(url)s",
          url=mail.external_url("saved_reports.detail", saved_report_id=report.id)),
    ])
    return subject, body


def _message_key(run: SavedReportRun, email: str) -> str:
    """One message per run and recipient (an address too long for the key is hashed)."""
    address = email.lower()
    if len(address) > 150:
        address = hashlib.sha256(address.encode()).hexdigest()
    return f"saved-report:{run.id}:{address}"


def _start_run(report: SavedReport, key: str, due: Optional[datetime], triggered_by: str,
               started: datetime) -> Optional[SavedReportRun]:
    """Insert the run's row (the lock); None when this due time already has one."""
    run = SavedReportRun(saved_report_id=report.id, run_key=key, due_at=utc_naive(due) if due else None,
                         started_at=utc_naive(started), outcome=RUN_RUNNING, triggered_by=triggered_by[:254])
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return run


def produce(report: SavedReport, key: str, due: Optional[datetime], *, triggered_by: str,
            now: Optional[datetime] = None) -> Optional[SavedReportRun]:
    """Make ``report``'s file for the period of ``due`` (or now), queue one message per recipient
    and deliver them; the run records the outcome. None when this run key already ran."""
    moment = local(now) if now is not None else datetime.now(LOCAL_TZ)
    report_id = report.id
    run = _start_run(report, key, due, triggered_by, moment)
    if run is None:
        log.info("Saved report %s (%s) already ran; skipped.", report_id, key)
        return None
    report = db.session.get(SavedReport, report_id)
    start, end = period_for(report.period_rule, local(due or moment).date())
    run.period_start, run.period_end = start, end
    recipients = recipients_of(report)
    waiting = ngettext("%(num)s ekstern adresse venter på godkendelse og fik intet.",
                       "%(num)s eksterne adresser venter på godkendelse og fik intet.",
                       len(recipients.waiting)) if recipients.waiting else ""
    if not recipients.emails:
        return _finish(run, RUN_SKIPPED, " ".join(filter(None, [_("Ingen modtagere."), waiting])), moment, now)
    try:
        filename, mimetype, data = build_file(report, start, end)
    except Exception as error:  # a broken build must not stop the other reports; the run shows it
        db.session.rollback()
        log.exception("Saved report %s could not be built", report_id)
        run = db.session.get(SavedReportRun, run.id)
        return _finish(run, RUN_FAILED, _("Filen kunne ikke laves: %(error)s",
                                          error=f"{type(error).__name__}: {error}"), moment, now)
    subject, body = _message_text(report, start, end, filename)
    ids = []
    for email in recipients.emails:
        message = mail.queue_message(email, subject, body, key=_message_key(run, email), job="saved_reports",
                                     attachment=(filename, mimetype, data))
        if message is not None:
            ids.append(message.id)
    run.message_ids = ",".join(str(i) for i in ids)
    db.session.commit()
    counts = mail.deliver(ids, utc_naive(moment))
    outcome = RUN_FAILED if counts.get("failed") else RUN_OK
    detail = ngettext("%(file)s til %(num)s modtager: %(counts)s.", "%(file)s til %(num)s modtagere: %(counts)s.",
                      len(ids), file=filename, counts=mail.describe_counts(counts))
    if counts.get("failed"):
        detail += " " + _("Udbakken prøver igen.")
    return _finish(run, outcome, " ".join(filter(None, [detail, waiting])), moment, now)


def _finish(run: SavedReportRun, outcome: str, detail: str, moment: datetime,
            now: Optional[datetime]) -> SavedReportRun:
    run.outcome, run.detail = outcome, detail
    run.finished_at = utc_naive(moment) if now is not None else max(utcnow(), run.started_at)
    db.session.commit()
    return run


def run_due(now: datetime, triggered_by: str = "scheduler") -> tuple[str, str]:
    """The scheduled job: produce and send every saved report that is due. (outcome, detail)."""
    produced = failed = skipped = 0
    for report, key, moment in due_reports(now):
        run = produce(report, key, moment, triggered_by=triggered_by, now=now)
        if run is None:
            continue
        produced += 1
        failed += run.outcome == RUN_FAILED
        skipped += run.outcome == RUN_SKIPPED
    if not produced:
        return RUN_SKIPPED, _("Ingen automatiske rapporter var forfaldne.")
    detail = ngettext("%(num)s automatisk rapport lavet (%(failed)s fejlet, %(skipped)s uden modtagere).",
                      "%(num)s automatiske rapporter lavet (%(failed)s fejlet, %(skipped)s uden modtagere).",
                      produced, failed=failed, skipped=skipped)
    return (RUN_FAILED if failed else RUN_OK), detail


def has_due(now: datetime) -> bool:
    return bool(due_reports(now))


def send_now(report: SavedReport, *, actor, now: Optional[datetime] = None) -> SavedReportRun:
    """An admin's or the owner's "send now": the period as of today, recorded like a scheduled run."""
    ensure_can_manage_saved_report(report, user=actor)
    moment = local(now) if now is not None else datetime.now(LOCAL_TZ)
    key = f"manual:{moment.strftime('%Y-%m-%dT%H:%M:%S')}:{secrets.token_hex(4)}"
    return produce(report, key, None, triggered_by=getattr(actor, "email", "") or "?", now=now)


# --- Saving, deleting, approving -------------------------------------------------------------


@dataclass
class SavedReportData:
    """What the form submits."""

    name: str
    kind: str
    period_rule: str
    region_code: Optional[int]
    format: str
    frequency: str
    weekday: Optional[int]
    day: Optional[int]
    hour: Optional[int]
    active: bool
    recipient_ids: list[int] = field(default_factory=list)
    addresses: str = ""


ADDRESS_SPLIT = re.compile(r"[\s,;]+")


def parse_addresses(text: str) -> list[str]:
    """External addresses, one a line (commas and semicolons also separate); FieldError on the
    ``addresses`` field naming the first address that is not one."""
    found: dict[str, str] = {}
    for raw in ADDRESS_SPLIT.split(text or ""):
        if not raw:
            continue
        try:
            email = validate_email(raw, check_deliverability=False).normalized
        except EmailNotValidError:
            raise FieldError(_("»%(address)s« er ikke en e-mailadresse.", address=raw[:100]), "addresses")
        found.setdefault(email.lower(), email)
    if len(found) > 50:
        raise FieldError(_("Højst 50 eksterne adresser."), "addresses")
    return list(found.values())


def _check(data: SavedReportData, actor) -> list[User]:
    """FieldError for a broken rule, Forbidden for a region the actor may not use; the users chosen."""
    if not data.name.strip():
        raise FieldError(_("Giv rapporten et navn."), "name")
    if data.kind not in KINDS:
        raise FieldError(_("Vælg en rapporttype fra listen."), "kind")
    if data.period_rule not in PERIOD_RULES:
        raise FieldError(_("Vælg en periode fra listen."), "period_rule")
    if data.format not in FORMATS:
        raise FieldError(_("Vælg et filformat fra listen."), "format")
    if data.frequency not in FREQUENCIES:
        raise FieldError(_("Vælg en hyppighed fra listen."), "frequency")
    if data.frequency == FREQ_WEEKLY and (data.weekday is None or not 0 <= data.weekday <= 6):
        raise FieldError(_("Vælg en ugedag."), "weekday")
    if data.frequency in (FREQ_MONTHLY, FREQ_HALFYEARLY) and (data.day is None or not 1 <= data.day <= MAX_DAY):
        raise FieldError(_("Dagen skal være mellem 1 og %(max)s (den findes i alle måneder).", max=MAX_DAY), "day")
    if data.hour is None or not 0 <= data.hour <= 23:
        raise FieldError(_("Vælg et klokkeslæt."), "hour")
    if data.region_code is not None and db.session.get(Region, data.region_code) is None:
        raise FieldError(_("Vælg en region fra listen."), "region")
    if not can_create_saved_report(data.region_code, user=actor):
        raise Forbidden()
    ids = set(data.recipient_ids)
    users = list(db.session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True)))) if ids else []
    if len(users) != len(ids):
        raise FieldError(_("Vælg modtagere fra listen."), "recipients")
    return users


SCHEDULE_FIELDS = ("frequency", "weekday", "day", "hour")


def save_saved_report(report: Optional[SavedReport], data: SavedReportData, version=None, *,
                      actor) -> SavedReport:
    """Create or change a saved report. External addresses added by an admin are approved at once;
    added by anyone else they wait for an admin. A changed schedule, or switching it on, starts
    counting due times from now (nothing is sent for a time that passed before)."""
    if report is not None:
        ensure_can_manage_saved_report(report, user=actor)
    users = _check(data, actor)
    addresses = parse_addresses(data.addresses)
    if report is not None:
        ensure_version(report, version)
    now = utcnow()
    if report is None:
        report = SavedReport(owner_id=actor.id, created_at=now, schedule_from=now)
        db.session.add(report)
    else:
        rescheduled = any(getattr(report, name) != getattr(data, name) for name in SCHEDULE_FIELDS)
        if rescheduled or (data.active and not report.active):
            report.schedule_from = now
    report.name = data.name.strip()[:160]
    report.kind, report.period_rule, report.format = data.kind, data.period_rule, data.format
    report.region_code, report.frequency = data.region_code, data.frequency
    report.weekday = data.weekday if data.weekday is not None else 0
    report.day = data.day if data.day is not None else 1
    report.hour, report.active = data.hour, data.active
    report.recipients = sorted(users, key=lambda u: u.email)
    _set_addresses(report, addresses, actor, now)
    mark_updated(report, actor)
    commit_versioned(report)
    return report


def _set_addresses(report: SavedReport, addresses: list[str], actor, now: datetime) -> None:
    """Keep the addresses still listed (with their approval), add new ones, drop the others."""
    wanted = {email.lower(): email for email in addresses}
    for address in list(report.addresses):
        if address.email.lower() not in wanted:
            report.addresses.remove(address)
        else:
            wanted.pop(address.email.lower())
    approver = can_approve_addresses(user=actor)
    for email in wanted.values():
        report.addresses.append(SavedReportAddress(
            email=email, proposed_by_id=actor.id, proposed_at=now,
            approved_by_id=actor.id if approver else None, approved_at=now if approver else None))


def delete_saved_report(report: SavedReport, version=None, *, actor) -> None:
    """Delete a saved report with its addresses and run history (the e-mails stay in the outbox)."""
    ensure_can_manage_saved_report(report, user=actor)
    ensure_version(report, version)
    db.session.delete(report)
    db.session.commit()


def approve_address(address: SavedReportAddress, *, actor) -> SavedReportAddress:
    """An admin approves an external address: from the next run on it receives the report."""
    ensure_can_approve_addresses(user=actor)
    if address.approved_at is None:
        address.approved_at, address.approved_by_id = utcnow(), actor.id
        db.session.commit()
    return address


# --- Reading ---------------------------------------------------------------------------------


def saved_reports() -> list[SavedReport]:
    """Every saved report with its region, owner, recipients and addresses (a fixed number of queries)."""
    return list(db.session.scalars(
        select(SavedReport)
        .options(selectinload(SavedReport.region), selectinload(SavedReport.owner),
                 selectinload(SavedReport.recipients), selectinload(SavedReport.addresses))
        .order_by(SavedReport.name, SavedReport.id)
    ))


def latest_runs(report_ids: Iterable[int]) -> dict[int, SavedReportRun]:
    """The newest run of each report (one query)."""
    ids = list(report_ids)
    if not ids:
        return {}
    newest = (select(SavedReportRun.saved_report_id, func.max(SavedReportRun.id).label("id"))
              .where(SavedReportRun.saved_report_id.in_(ids)).group_by(SavedReportRun.saved_report_id).subquery())
    runs = db.session.scalars(select(SavedReportRun).join(newest, newest.c.id == SavedReportRun.id))
    return {run.saved_report_id: run for run in runs}


def runs_of(report: SavedReport, limit: int = 50) -> list[SavedReportRun]:
    return list(db.session.scalars(
        select(SavedReportRun).where(SavedReportRun.saved_report_id == report.id)
        .order_by(SavedReportRun.id.desc()).limit(limit)))


def failed_runs(limit: int = 20) -> list[SavedReportRun]:
    """The latest failed runs of any saved report, for the admins' pages."""
    return list(db.session.scalars(
        select(SavedReportRun).where(SavedReportRun.outcome == RUN_FAILED)
        .options(selectinload(SavedReportRun.saved_report))
        .order_by(SavedReportRun.id.desc()).limit(limit)))


def messages_of(runs: Iterable[SavedReportRun]) -> dict[int, "mail.OutboxMessage"]:
    """The outbox messages of ``runs`` by id (one query), to show their status now."""
    from crm.models.messaging import OutboxMessage

    ids = [i for run in runs for i in run.message_id_list]
    if not ids:
        return {}
    return {m.id: m for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))}

