"""``flask --app wsgi backup DEST_DIR`` and ``flask --app wsgi restore BACKUP_DIR``."""
from pathlib import Path

import click

from crm.cli.common import as_cli_admin
from crm.services.backup import BackupError
from crm.services.backup import backup as make_backup
from crm.services.backup import read_manifest
from crm.services.backup import restore as restore_backup


def _summary(counts: dict[str, int]) -> str:
    """'activity 1 203, note 88, …' for the tables that hold rows."""
    return ", ".join(f"{table} {count}" for table, count in sorted(counts.items()) if count)


@click.command("backup")
@click.argument("dest_dir", type=click.Path(file_okay=False, path_type=Path))
@as_cli_admin
def backup_command(dest_dir: Path):
    """Copy the database and uploaded files into DEST_DIR (consistent while the app runs)."""
    try:
        result = make_backup(dest_dir)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backup of the {result.database_kind} database and {result.files} uploaded file(s) "
               f"written to {result.directory}.")
    click.echo(f"Rows: {_summary(result.row_counts)}")


@click.command("restore")
@click.argument("backup_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@as_cli_admin
def restore_command(backup_dir: Path, yes: bool):
    """Replace the database and uploaded files with the backup in BACKUP_DIR (verified first)."""
    try:
        manifest = read_manifest(backup_dir)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if not yes:
        click.confirm(f"Replace ALL current data with the backup from {manifest['created_at']}?", abort=True)
    try:
        result = restore_backup(backup_dir)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored the {result.database_kind} database and {result.files} uploaded file(s) "
               f"from {backup_dir}.")
    click.echo(f"Rows: {_summary(result.row_counts)}")
