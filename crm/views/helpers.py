"""Small request helpers the views share."""
from typing import Optional

from flask import request
from flask_login import current_user


def int_arg(name: str, source=None) -> Optional[int]:
    """A query (or form) argument as int, or None when absent or not a number (never a 500)."""
    try:
        return int((source or request.args).get(name, ""))
    except (TypeError, ValueError):
        return None


def own_region_default() -> Optional[int]:
    """An ambassador's bare list (no query arguments at all) starts in their own region; any
    argument, ``region=`` (empty: the whole country) included, means exactly what it says, so
    links from the dashboard and the start page keep their meaning."""
    if request.args or not current_user.is_ambassador:
        return None
    return current_user.region_code


def wants_json() -> bool:
    """True for the board's fetch() calls, which ask for JSON instead of a redirect."""
    return request.accept_mimetypes.best == "application/json"


def ints(values) -> list[int]:
    """Selected ids from a multiple select, ignoring anything that is not a number."""
    result = []
    for value in values or []:
        try:
            result.append(int(value))
        except (TypeError, ValueError):
            continue
    return result
