"""``flask --app wsgi report status`` and ``report accounts``: reports as CSV or XLSX from the command line.

Examples::

    flask --app wsgi report status --year 2025 --half 1 --format csv --out status-2025-h1.csv
    flask --app wsgi report status --from 2025-01-01 --to 2025-03-31 --format xlsx --out q1.xlsx
    flask --app wsgi report accounts --year 2025 --half 1 --format xlsx --out delregnskab.xlsx
"""
from datetime import date
from pathlib import Path
from typing import Optional

import click
from flask.cli import AppGroup

from crm.cli.common import as_cli_admin
from crm.formatting import half_year_period, parse_date

report_cli = AppGroup("report", help="Produce reports.")


class TypedDate(click.ParamType):
    """A date as people type it, read by ``crm.formatting.parse_date`` (2025-07-01 or 01-07-2025)."""

    name = "date"

    def convert(self, value, param, ctx) -> date:
        if isinstance(value, date):
            return value
        day = parse_date(value)
        if day is None:
            self.fail(f"{value!r} is not a date: write YYYY-MM-DD or DD-MM-YYYY.", param, ctx)
        return day


DATE = TypedDate()


def resolve_period(year: Optional[int], half: Optional[int], start, end) -> tuple[date, date]:
    """The period from either --year/--half or --from/--to; a UsageError (exit 2) otherwise."""
    if (start or end) and (year is not None or half is not None):
        raise click.UsageError("Use either --year/--half or --from/--to, not both.")
    if start or end:
        if not (start and end):
            raise click.UsageError("Give both --from and --to (YYYY-MM-DD).")
        if start > end:
            raise click.UsageError(f"--from ({start}) is after --to ({end}).")
        return start, end
    if year is None:
        raise click.UsageError("Give --year and --half, or --from and --to.")
    if half is None:
        raise click.UsageError("Give --half 1 (January–June) or --half 2 (July–December).")
    return half_year_period(year, half)


@report_cli.command("status")
@click.option("--year", type=click.IntRange(2000, 2100), help="Year of a half-year period.")
@click.option("--half", type=click.IntRange(1, 2), help="1 = 1 January–30 June, 2 = 1 July–31 December.")
@click.option("--from", "start", type=DATE, help="First day of a custom period (YYYY-MM-DD).")
@click.option("--to", "end", type=DATE, help="Last day of a custom period (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", "out", required=True, help="File to write; '-' writes CSV to standard output.")
@as_cli_admin
def status(year, half, start, end, fmt, out):
    """The half-yearly status report to STAR (same figures as the report page)."""
    from crm.services.report import report_to_csv, report_to_xlsx, status_report

    period = resolve_period(year, half, start, end)
    if out == "-" and fmt != "csv":
        raise click.UsageError("Only CSV can be written to standard output; give a file with --out.")
    report = status_report(*period)
    data = report_to_csv(report) if fmt == "csv" else report_to_xlsx(report)
    if out == "-":
        click.echo(data.decode("utf-8-sig"), nl=False)
        return
    try:
        Path(out).write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"Cannot write {out}: {exc.strerror or exc}") from exc
    click.echo(f"Wrote the status report for {period[0]}–{period[1]} ({fmt.upper()}) to {out}.", err=True)


@report_cli.command("accounts")
@click.option("--year", type=click.IntRange(2000, 2100), required=True, help="The half-year's year.")
@click.option("--half", type=click.IntRange(1, 2), required=True,
              help="1 = 1 January–30 June, 2 = 1 July–31 December.")
@click.option("--region", "region", type=int, help="A region's code (e.g. 1084); default: the nation and every region.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", "out", required=True, help="File to write.")
@as_cli_admin
def accounts(year, half, region, fmt, out):
    """The half-yearly partial accounts of the grants (same figures as the accounts page)."""
    from crm.services.grant_accounts import accounts_to_csv, accounts_to_xlsx, partial_accounts

    try:
        result = partial_accounts(year, half, region)
    except ValueError as exc:
        raise click.UsageError(f"No region with code {region}.") from exc
    data = accounts_to_csv(result) if fmt == "csv" else accounts_to_xlsx(result)
    try:
        Path(out).write_bytes(data)
    except OSError as exc:
        raise click.ClickException(f"Cannot write {out}: {exc.strerror or exc}") from exc
    click.echo(f"Wrote the partial accounts for {result.start}–{result.end} ({fmt.upper()}) to {out}.", err=True)
