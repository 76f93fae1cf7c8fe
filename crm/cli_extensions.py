"""Imports the modules that attach subcommands to the CLI groups in ``crm.commands``."""
from crm.cli import backup, imports, outcomes, report, scheduler  # noqa: F401
