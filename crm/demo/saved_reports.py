"""Demo saved reports: the national status report to the working group every half-year (with
STAR's address approved and a municipality's address waiting for an admin), and Hovedstaden's
ambassador's own monthly CSV, with one earlier run each."""
from datetime import datetime, timedelta

from crm.clock import utcnow
from crm.extensions import db
from crm.formatting import half_year_period, last_completed_half
from crm.models import SavedReport, SavedReportAddress, SavedReportRun


def load(ctx) -> None:
    """Create the demo saved reports (called by ``crm.demo.load_demo``, which commits)."""
    now = utcnow()
    national = SavedReport(
        name="Statusrapport til STAR (hele landet)", kind="status", period_rule="last_completed_half",
        region_code=None, format="xlsx", frequency="halfyearly", day=10, hour=7, weekday=0, active=True,
        owner_id=ctx.admin.id, schedule_from=now, created_at=now - timedelta(days=200),
        recipients=[ctx.admin, ctx.working_group])
    national.addresses = [
        SavedReportAddress(email="ips@star.dk", proposed_by_id=ctx.admin.id, proposed_at=now - timedelta(days=200),
                           approved_by_id=ctx.admin.id, approved_at=now - timedelta(days=200)),
        SavedReportAddress(email="jobcenterchef@kk.dk", proposed_by_id=ctx.ambassadors[1084].id, proposed_at=now),
    ]
    regional = SavedReport(
        name="Hovedstaden: halvåret til dato", kind="status", period_rule="current_half_to_date",
        region_code=1084, format="csv", frequency="monthly", day=1, hour=8, weekday=0, active=True,
        owner_id=ctx.ambassadors[1084].id, schedule_from=now, created_at=now - timedelta(days=40),
        recipients=[ctx.ambassadors[1084]])
    db.session.add_all([national, regional])
    db.session.flush()
    start, end = half_year_period(*last_completed_half(ctx.today))
    sent = datetime(end.year + (end.month == 12), 1 if end.month == 12 else 7, 10, 5)
    db.session.add(SavedReportRun(
        saved_report_id=national.id, run_key=f"{sent.date().isoformat()}T07", due_at=sent, period_start=start,
        period_end=end, started_at=sent, finished_at=sent + timedelta(seconds=4), outcome="ok",
        detail=f"statusrapport-{start.isoformat()}-{end.isoformat()}.xlsx til 3 modtagere: sendt 3, fejlet 0, "
               "i udbakken 0. 1 ekstern adresse venter på godkendelse og fik intet.",
        triggered_by="scheduler"))
    db.session.flush()
