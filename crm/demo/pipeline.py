"""Demo history for this area (filled in when the area lands)."""


def load(ctx) -> None:
    """Nothing yet."""
