"""Free-text search helpers shared by the list pages."""

LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` literally anywhere: % and _ typed by the user are not
    wildcards. Use with ``column.ilike(pattern, escape=LIKE_ESCAPE)``."""
    return "%" + escape_like(text) + "%"


def prefix_pattern(text: str) -> str:
    """A LIKE pattern matching values that start with ``text`` literally."""
    return escape_like(text) + "%"


def escape_like(text: str) -> str:
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
