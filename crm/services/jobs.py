"""Scheduled jobs: the ambassadors' daily digest, the half-year reminder, the e-mail retry, and the
removal of unconfirmed uploads.

Each job is a plain function of the clock (``now``), so tests drive it with a frozen time and
read the outbox. ``run_job`` wraps a job with its lock and record: it first inserts a ``JobRun``
row whose (job, run_key) is unique. Scheduled runs use the day (or the retry slot) as run key,
so when two scheduler processes fire at once only one insert succeeds and the other skips. The
messages themselves carry unique keys too (one digest per ambassador per day, one reminder per
recipient per half year), so a "run now" on top of a scheduled run never sends anything twice.
"""
import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable, Optional

from flask import current_app
from flask_babel import force_locale
from crm.clock import LOCAL_TZ
from crm.i18n import gettext as _
from crm.i18n import ngettext
from crm.i18n import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from crm.extensions import db
from crm.models import Municipality, Region, User
from crm.models.messaging import RUN_FAILED, RUN_OK, RUN_RUNNING, RUN_SKIPPED, JobRun, OutboxMessage
from crm.models.mixins import utcnow
from crm.models.user import ROLE_AMBASSADOR, ROLE_WORKING_GROUP
from crm.services import mail
from crm.formatting import format_date, half_year_period

log = logging.getLogger("crm.jobs")

HALF_YEAR_MONTHS = {6: 1, 12: 2}  # the last month of each half year → which half


@dataclass(frozen=True)
class Job:
    """A job the scheduler runs: its name, label and the function doing the work.

    ``func(now)`` returns (outcome, detail). ``has_work(now)`` (optional) lets the scheduler skip
    a frequent job without recording a run when there is nothing to do.
    """

    name: str
    label: str
    func: Callable[[datetime], tuple[str, str]]
    has_work: Optional[Callable[[datetime], bool]] = None


# --- Clock helpers ---------------------------------------------------------------------------


def local_now(now: Optional[datetime] = None) -> datetime:
    """``now`` (default: the real time) as an aware Copenhagen time."""
    if now is None:
        return datetime.now(LOCAL_TZ)
    if now.tzinfo is None:
        return now.replace(tzinfo=LOCAL_TZ)
    return now.astimezone(LOCAL_TZ)


def utc_naive(moment: datetime) -> datetime:
    """An aware time as naive UTC, the way timestamps are stored."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


# --- The daily digest ------------------------------------------------------------------------


@dataclass
class Digest:
    """What one region's ambassador should know today."""

    region: Region
    today: date
    overdue_steps: list = field(default_factory=list)  # crm.models.Task, open, due before today
    upcoming_steps: list = field(default_factory=list)  # open tasks due within DIGEST_NEXT_STEP_DAYS
    reviews: list = field(default_factory=list)  # crm.services.fidelity.DueReview
    quiet: list[tuple[Municipality, Optional[date]]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.overdue_steps or self.upcoming_steps or self.reviews or self.quiet)


def build_digest(region: Region, today: date) -> Digest:
    """The digest for one region (six queries whatever the data): its overdue and upcoming open
    tasks, fidelity reviews due and municipalities gone quiet."""
    from crm.services.dashboard import gone_quiet
    from crm.services.fidelity import due_reviews
    from crm.services.tasks import due_tasks

    config = current_app.config
    due = due_tasks(today, int(config.get("DIGEST_NEXT_STEP_DAYS", 7)), region_code=region.code)
    return Digest(
        region=region,
        today=today,
        overdue_steps=due.overdue,
        upcoming_steps=due.upcoming,
        reviews=due_reviews(today, within_days=int(config.get("DIGEST_FIDELITY_DAYS", 60)),
                            region_code=region.code),
        quiet=gone_quiet(today, region_code=region.code, months=int(config.get("DIGEST_QUIET_MONTHS", 6))),
    )


def _step_line(task, today: date) -> str:
    """'- Gentofte: Ring til chefen (frist 01-06-2026, 2 dage over) – Anne' and the link."""
    what = " ".join(task.text.split())
    days = (task.due_date - today).days
    if task.is_overdue(today):
        when = ngettext("frist %(date)s, %(num)s dag over", "frist %(date)s, %(num)s dage over", -days,
                        date=format_date(task.due_date))
    elif days == 0:
        when = _("frist i dag")
    else:
        when = _("frist %(date)s", date=format_date(task.due_date))
    owner = f" – {task.owner.display_name}" if task.owner else ""
    link = mail.external_url("municipalities.detail", code=task.municipality_code)
    return f"- {task.municipality.name}: {what} ({when}){owner}\n  {link}"


def _review_line(review) -> str:
    """One fidelity review due, with its due date and whether it is overdue."""
    state = _("over fristen") if review.overdue else _("forfalder")
    link = mail.external_url("municipalities.detail", code=review.municipality.code)
    return f"- {review.municipality.name}: {state} {format_date(review.due_date)}\n  {link}"


def _quiet_line(municipality: Municipality, last: Optional[date]) -> str:
    """One municipality gone quiet, with its last contact."""
    when = _("sidste kontakt %(date)s", date=format_date(last)) if last else _("ingen kontakt registreret")
    return f"- {municipality.name}: {when}"


def digest_text(user: User, digest: Digest) -> tuple[str, str]:
    """(subject, body) of a digest e-mail, in Danish plain text."""
    config = current_app.config
    sections = [
        (_("Opgaver over fristen"), [_step_line(t, digest.today) for t in digest.overdue_steps]),
        (_("Opgaver med frist inden for %(days)s dage", days=config.get("DIGEST_NEXT_STEP_DAYS", 7)),
         [_step_line(t, digest.today) for t in digest.upcoming_steps]),
        (_("Fidelitetsmålinger der forfalder inden for %(days)s dage", days=config.get("DIGEST_FIDELITY_DAYS", 60)),
         [_review_line(r) for r in digest.reviews]),
        (_("Kommuner uden kontakt i %(months)s måneder", months=config.get("DIGEST_QUIET_MONTHS", 6)),
         [_quiet_line(m, last) for m, last in digest.quiet]),
    ]
    lines = [
        _("Hej %(name)s", name=user.display_name),
        "",
        _("Dit overblik for %(region)s pr. %(date)s.", region=digest.region.name, date=format_date(digest.today)),
    ]
    for heading, items in sections:
        if items:
            lines += ["", f"{heading} ({len(items)}):", *items]
    lines += [
        "",
        "-- ",
        _("Du får denne e-mail, fordi det daglige overblik er slået til. Slå det fra her: %(url)s",
          url=mail.external_url("calendar.index")),
    ]
    subject = _("IPS CRM: dit overblik %(date)s", date=format_date(digest.today))
    if digest.overdue_steps:
        subject += " – " + _("%(count)s over fristen", count=len(digest.overdue_steps))
    return subject, "\n".join(lines)


def digest_recipients() -> list[User]:
    """Active ambassadors with a region who have not turned their digest off."""
    return list(db.session.scalars(
        select(User)
        .where(User.role == ROLE_AMBASSADOR, User.active.is_(True), User.digest_enabled.is_(True),
               User.region_code.is_not(None))
        .options(joinedload(User.region))
        .order_by(User.region_code, User.email)
    ))


def run_digest(now: datetime) -> tuple[str, str]:
    """Queue and send today's digest to each ambassador who has something due; empty ones are skipped."""
    today = local_now(now).date()
    by_region: dict[int, Digest] = {}
    queued, empty, earlier = [], 0, 0
    for user in digest_recipients():
        if user.region_code not in by_region:
            by_region[user.region_code] = build_digest(user.region, today)
        digest = by_region[user.region_code]
        if digest.is_empty:
            empty += 1
            continue
        with force_locale(user.locale or "da"):
            subject, body = digest_text(user, digest)
        message = mail.queue_message(user.email, subject, body, key=f"digest:{today.isoformat()}:{user.id}",
                                     job="digest")
        if message is None:
            earlier += 1
        else:
            queued.append(message.id)
    db.session.commit()
    counts = mail.deliver(queued, utc_naive(local_now(now)))
    detail = ngettext("Overblik til %(num)s ambassadør (%(counts)s); %(empty)s uden noget at melde; "
                      "%(earlier)s fik det allerede i dag.",
                      "Overblik til %(num)s ambassadører (%(counts)s); %(empty)s uden noget at melde; "
                      "%(earlier)s fik det allerede i dag.",
                      len(queued), counts=mail.describe_counts(counts), empty=empty, earlier=earlier)
    return RUN_OK, detail


# --- The half-year reminder ------------------------------------------------------------------


def halfyear_recipients() -> list[str]:
    """E-mail addresses of the active working group plus ``HALFYEAR_EXTRA_RECIPIENTS``, each once."""
    emails = list(db.session.scalars(
        select(User.email).where(User.role == ROLE_WORKING_GROUP, User.active.is_(True)).order_by(User.email)
    ))
    emails += list(current_app.config.get("HALFYEAR_EXTRA_RECIPIENTS") or [])
    seen: dict[str, str] = {}
    for email in emails:
        seen.setdefault(email.strip().lower(), email.strip())
    return [email for key, email in seen.items() if key]


def _halfyear_text(year: int, half: int, start: date, end: date) -> tuple[str, str]:
    """(subject, body) of the half-year reminder."""
    subject = _("IPS CRM: statusrapporten for %(half)s. halvår %(year)s skal snart sendes til STAR",
                half=half, year=year)
    body = "\n".join([
        _("Kære arbejdsgruppe"),
        "",
        _("%(half)s. halvår %(year)s (%(start)s–%(end)s) slutter snart, og statusrapporten skal derefter "
          "sendes til STAR.", half=half, year=year, start=format_date(start), end=format_date(end)),
        _("Vedhæftet er et udkast med tallene, som de står i CRM'et i dag. Tallene ændrer sig, indtil "
          "halvåret er slut og alle aktiviteter er registreret."),
        "",
        _("Se og eksportér rapporten her: %(url)s", url=mail.external_url("reports.index")),
    ])
    return subject, body


def run_halfyear_reminder(now: datetime) -> tuple[str, str]:
    """In June and December: send the working group the draft status report (XLSX), once per half year."""
    from crm.services.report import report_to_xlsx, status_report

    today = local_now(now).date()
    half = HALF_YEAR_MONTHS.get(today.month)
    if half is None:
        return RUN_SKIPPED, _("Påmindelsen sendes kun i juni og december.")
    if today.day < int(current_app.config.get("SCHEDULER_HALFYEAR_DAY", 1)):
        return RUN_SKIPPED, _("Påmindelsen sendes først fra den %(day)s.",
                              day=current_app.config.get("SCHEDULER_HALFYEAR_DAY"))
    prefix = f"halfyear:{today.year}-{half}:"
    already = set(db.session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.startswith(prefix))))
    todo = [email for email in halfyear_recipients() if prefix + email.lower() not in already]
    if not todo:
        return RUN_SKIPPED, _("Påmindelsen for %(half)s. halvår %(year)s er allerede sendt (eller ingen modtagere).",
                              half=half, year=today.year)
    start, end = half_year_period(today.year, half)
    xlsx = report_to_xlsx(status_report(start, end))
    filename = f"statusrapport-{today.year}-{half}-halvaar-udkast.xlsx"
    subject, body = _halfyear_text(today.year, half, start, end)
    queued = []
    for email in todo:
        message = mail.queue_message(email, subject, body, key=prefix + email.lower(), job="halfyear",
                                     attachment=(filename, mail.XLSX_MIMETYPE, xlsx))
        if message is not None:
            queued.append(message.id)
    db.session.commit()
    counts = mail.deliver(queued, utc_naive(local_now(now)))
    return RUN_OK, ngettext("Påmindelse med udkast til %(num)s modtager (%(counts)s).",
                            "Påmindelse med udkast til %(num)s modtagere (%(counts)s).",
                            len(queued), counts=mail.describe_counts(counts))


# --- Retrying e-mail -------------------------------------------------------------------------


def run_mail_retry(now: datetime) -> tuple[str, str]:
    """Send what is queued and retry failed e-mails below the attempt limit."""
    counts = mail.deliver_pending(utc_naive(local_now(now)))
    return RUN_OK, _("Gensendelse: %(counts)s.", counts=mail.describe_counts(counts))


def _mail_has_work(now: datetime) -> bool:
    return bool(mail.pending_ids(utc_naive(local_now(now))))


# --- Removing unconfirmed uploads ------------------------------------------------------------


def run_pending_cleanup(now: datetime) -> tuple[str, str]:
    """Remove uploads that waited for their confirmation longer than the limit (default an hour)."""
    from crm.services import pending_uploads

    max_age = pending_uploads.max_age_seconds()
    removed = pending_uploads.remove_stale(current_app.config["UPLOAD_FOLDER"], max_age, local_now(now).timestamp())
    return RUN_OK, ngettext("Fjernede %(num)s ubekræftet upload ældre end %(minutes)s minutter.",
                            "Fjernede %(num)s ubekræftede uploads ældre end %(minutes)s minutter.",
                            removed, minutes=max_age // 60)


def _pending_has_work(now: datetime) -> bool:
    from crm.services import pending_uploads

    return bool(pending_uploads.stale_files(current_app.config["UPLOAD_FOLDER"], pending_uploads.max_age_seconds(),
                                            local_now(now).timestamp()))


# --- Saved reports that send themselves ------------------------------------------------------


def run_saved_reports(now: datetime) -> tuple[str, str]:
    """Produce and send every saved report whose due time has come (once per due time)."""
    from crm.services import saved_reports

    return saved_reports.run_due(now)


def _saved_reports_have_work(now: datetime) -> bool:
    from crm.services import saved_reports

    return saved_reports.has_due(now)


JOBS: dict[str, Job] = {
    "digest": Job("digest", _l("Dagligt overblik til ambassadørerne"), run_digest),
    "halfyear": Job("halfyear", _l("Halvårspåmindelse til arbejdsgruppen"), run_halfyear_reminder),
    "mail": Job("mail", _l("Send e-mails i kø og gensend fejlede"), run_mail_retry, _mail_has_work),
    "pending": Job("pending", _l("Fjern ubekræftede uploads"), run_pending_cleanup, _pending_has_work),
    "saved_reports": Job("saved_reports", _l("Send automatiske rapporter der er forfaldne"), run_saved_reports,
                         _saved_reports_have_work),
}


# --- Running a job with its lock and record --------------------------------------------------


# The frequent jobs and the setting of their interval in minutes (their run key is the slot).
INTERVAL_SETTINGS = {"mail": "SCHEDULER_MAIL_RETRY_MINUTES", "pending": "SCHEDULER_PENDING_CLEANUP_MINUTES",
                     "saved_reports": "SCHEDULER_SAVED_REPORTS_MINUTES"}


def scheduled_run_key(name: str, now: datetime) -> str:
    """The key two schedulers firing the same job at the same time agree on: the day, or the
    retry slot for the frequent e-mail job."""
    now = local_now(now)
    if name in INTERVAL_SETTINGS:
        minutes = max(1, int(current_app.config.get(INTERVAL_SETTINGS[name], 15)))
        slot = (now.hour * 60 + now.minute) // minutes * minutes
        return f"{now.date().isoformat()}T{slot // 60:02d}:{slot % 60:02d}"
    return now.date().isoformat()


def _acquire(name: str, run_key: str, started_at: datetime, triggered_by: str) -> Optional[int]:
    """Insert the run's row (the lock); its id, or None when another process already has it."""
    run = JobRun(job=name, run_key=run_key, started_at=started_at, outcome=RUN_RUNNING,
                 triggered_by=triggered_by[:254])
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return run.id


def run_job(name: str, now: Optional[datetime] = None, triggered_by: str = "scheduler",
            scheduled: bool = False) -> Optional[JobRun]:
    """Run job ``name`` once and record it; None when another process holds this run's lock
    (or, for a scheduled frequent job, when there is nothing to do).

    ``now`` freezes the clock (tests); ``scheduled`` runs share the day's lock, manual ones
    ("run now", the CLI) get their own.
    """
    job = JOBS.get(name)
    if job is None:
        raise ValueError(f"unknown job {name!r}")
    moment = local_now(now)
    if scheduled and job.has_work is not None and not job.has_work(moment):
        return None
    run_key = scheduled_run_key(name, moment) if scheduled else f"manual:{moment.isoformat()}:{secrets.token_hex(4)}"
    run_id = _acquire(name, run_key, utc_naive(moment), triggered_by)
    if run_id is None:
        log.info("Job %s (%s) is already being run by another process; skipped.", name, run_key)
        return None
    try:
        outcome, detail = job.func(moment)
    except Exception as error:  # a job must never take the scheduler down; the run shows the error
        db.session.rollback()
        log.exception("Job %s failed", name)
        outcome, detail = RUN_FAILED, f"{type(error).__name__}: {error}"
    run = db.session.get(JobRun, run_id)
    run.outcome, run.detail = outcome, detail
    run.finished_at = utc_naive(moment) if now is not None else max(utcnow(), run.started_at)
    db.session.commit()
    return run


def latest_runs() -> dict[str, JobRun]:
    """The most recent run of each job (one query)."""
    newest = (
        select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    )
    runs = db.session.scalars(select(JobRun).join(newest, newest.c.id == JobRun.id)).all()
    return {run.job: run for run in runs}
