"""``flask --app wsgi import outcomes FILE``: STAR's quarterly outcome figures (CSV or XLSX).

Columns ``municipality,quarter,citizens,with_paid_hours,with_employment,with_education,
ever_paid_hours_or_education``. The whole file is checked first and the line-by-line report
printed. A file that looks like it holds personal data is refused (exit status 1, nothing written).
With row errors nothing is written and the exit status is 1, unless ``--good-rows-only`` is given.
The command line acts as administrator (every region).
"""
from pathlib import Path

import click

from crm.cli.common import as_cli_admin
from crm.cli.imports import apply_checked
from crm.services.importing import report_lines


@click.command("outcomes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--good-rows-only", is_flag=True, help="Import the good rows and skip rows with errors.")
@click.option("--dry-run", is_flag=True, help="Only check the file and print the report.")
@as_cli_admin
def import_outcomes(file, good_rows_only, dry_run):
    """Import outcome figures: municipality,quarter,citizens,with_paid_hours,with_employment,
    with_education,ever_paid_hours_or_education (quarter as 2025Q3)."""
    from crm.services.importing import check_file
    from crm.services.outcomes import OutcomeImporter

    result = check_file(OutcomeImporter(actor=None), Path(file).read_bytes(), Path(file).name)
    if result.personal_data:
        for error in result.errors:
            click.echo(str(error), err=True)
        raise SystemExit(1)
    for line in report_lines(result):
        click.echo(line)
    click.echo(f"Nye: {result.additions}. Opdateres: {result.updates}.")
    outcome = apply_checked(result, good_rows_only, dry_run)
    importer = result.importer
    click.echo(f"Importeret: {importer.created} nye, {importer.updated} opdaterede. "
               f"Sprunget over, findes allerede: {outcome.skipped_present}. "
               f"Sprunget over på grund af fejl: {outcome.skipped_errors}.")
