"""``flask --app wsgi import activities FILE`` and ``flask --app wsgi import stages FILE``; the
``import`` group (``import outcomes`` is in crm/cli/outcomes.py).

The file is checked completely first. With errors, the line-by-line report is printed and the
command exits with status 1 without writing anything, unless ``--good-rows-only`` is given (then
the good rows are written and the exit status is 0). Rows that match a stored record but carry
other figures are listed (old → new) and updated only with ``--apply-changes``. The command line
acts as administrator.
"""
from pathlib import Path

import click
from flask.cli import AppGroup

from crm.cli.common import as_cli_admin
from crm.services.importing import (
    ALL_OR_NOTHING,
    GOOD_ROWS_ONLY,
    ImportRefused,
    check_file,
    report_lines,
)

import_cli = AppGroup("import", help="Import spreadsheets (CSV or XLSX).")


def run_import(importer_class, path: str, good_rows_only: bool, dry_run: bool, apply_changes: bool = False) -> None:
    """Check ``path`` with ``importer_class``, print the report, and write unless told otherwise."""
    data = Path(path).read_bytes()
    result = check_file(importer_class(actor=None), data, Path(path).name)
    for line in report_lines(result):
        click.echo(line)
    outcome = apply_checked(result, good_rows_only, dry_run, apply_changes)
    click.echo(f"Importeret: {outcome.created}. Opdateret: {outcome.updated}. "
               f"Sprunget over, findes allerede: {outcome.skipped_present}. "
               f"Ændrede rækker ikke opdateret (brug --apply-changes): {outcome.skipped_changed}. "
               f"Sprunget over på grund af fejl: {outcome.skipped_errors}.")


def apply_checked(result, good_rows_only: bool, dry_run: bool, apply_changes: bool = False):
    """Write a checked file's rows, or exit: 1 after a dry run with errors or on a refused file,
    0 after a clean dry run. Shared by every ``import`` subcommand."""
    if dry_run:
        raise SystemExit(1 if result.errors else 0)
    if result.errors and (result.fatal or not good_rows_only):
        click.echo("Intet er importeret. Ret filen, eller brug --good-rows-only for kun at importere "
                   "de gode rækker.", err=True)
        raise SystemExit(1)
    try:
        return result.apply(GOOD_ROWS_ONLY if good_rows_only else ALL_OR_NOTHING, apply_changes=apply_changes)
    except ImportRefused as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1)


def _import_command(name: str, importer_path: str, help_text: str):
    """Build one ``import <name>`` subcommand around an importer class (imported lazily)."""

    @import_cli.command(name, help=help_text)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--good-rows-only", is_flag=True, help="Import the good rows and skip rows with errors.")
    @click.option("--dry-run", is_flag=True, help="Only check the file and print the report.")
    @click.option("--apply-changes", is_flag=True,
                  help="Also update stored records whose figures the file changes (listed old → new).")
    @as_cli_admin
    def command(file, good_rows_only, dry_run, apply_changes):
        module_name, class_name = importer_path.rsplit(".", 1)
        from importlib import import_module

        run_import(getattr(import_module(module_name), class_name), file, good_rows_only, dry_run, apply_changes)

    return command


import_activities = _import_command(
    "activities", "crm.services.activities.ActivityImporter",
    "Import activities (CSV or XLSX): date,type,title,region,municipalities,participants,hours,note.",
)
import_stages = _import_command(
    "stages", "crm.services.stage_import.StageImporter",
    "Import stage changes (CSV or XLSX): municipality,stage,date,note.",
)
