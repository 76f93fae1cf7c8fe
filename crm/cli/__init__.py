"""Command-line subcommands, one module per area; see crm.commands for the groups."""
