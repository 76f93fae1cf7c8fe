"""CLI commands for this area (filled in when the area lands)."""
