"""Small request helpers the views share."""
import re
from typing import Optional

from flask import request, url_for
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


class QueryUrls:
    """``url_for`` for a page with hundreds of links that differ only in their query string (the
    dashboard's figures). Each endpoint's path and each name=value pair is built once by
    ``url_for`` itself (a pair of unreserved characters only is what any encoding writes), and the
    pairs are joined with "&" in the order given, as ``url_for`` joins them. Measured at 100 000 activities it saves 10 % of the dashboard's time
    (`python -m bench.compare`); tests/test_dashboard.py holds its links to ``url_for``'s.
    """

    def __init__(self):
        self._paths: dict[str, str] = {}
        self._pairs: dict[tuple, str] = {}

    def __call__(self, endpoint: str, **query) -> str:
        path = self._paths.get(endpoint)
        if path is None:
            path = self._paths[endpoint] = url_for(endpoint)
        pairs = "&".join(self._pair(endpoint, name, value) for name, value in query.items() if value is not None)
        return f"{path}?{pairs}" if pairs else path

    def _pair(self, endpoint: str, name: str, value) -> str:
        key = (endpoint, name, type(value), value)
        encoded = self._pairs.get(key)
        if encoded is None:
            if type(value) in (int, str) and _UNRESERVED.match(name) and _UNRESERVED.match(str(value)):
                # Unreserved characters (RFC 3986) are written as they are by any URL encoding:
                # url_for would write exactly this pair, so it is not asked for each metric key,
                # region code and date of a page's links.
                encoded = f"{name}={value}"
            else:
                encoded = url_for(endpoint, **{name: value}).partition("?")[2]
            self._pairs[key] = encoded
        return encoded


_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+\Z")

