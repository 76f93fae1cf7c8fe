"""Command-line interface: ``flask --app wsgi <command>``, one module per area.

``register`` is the one list of commands; the factory calls it. Commands act as an administrator
and are audited as ``cli (admin)`` (``crm.cli.common.as_cli_admin``).
"""
from flask import Flask

from crm.cli import backup, data, export, imports, outcomes, report, scheduler, users


def register(app: Flask) -> None:
    """Attach every command and command group to ``flask``."""
    imports.import_cli.add_command(outcomes.import_outcomes)
    for command in (
        data.seed_command, data.demo_command, users.user_cli, imports.import_cli, report.report_cli,
        backup.backup_command, backup.restore_command, scheduler.scheduler_command, scheduler.jobs_cli,
        export.export_cli,
    ):
        app.cli.add_command(command)
