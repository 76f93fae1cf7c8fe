"""Imports the modules that attach subcommands to the ``import`` and ``report`` groups."""
