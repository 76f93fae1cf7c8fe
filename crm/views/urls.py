"""Links to other areas' pages, built for pages with many of them."""
from typing import Optional
from urllib.parse import urlencode

from flask import url_for
from werkzeug.routing import BuildError


def safe_url(endpoints, **values) -> Optional[str]:
    """A URL for another area's page, trying each endpoint name in turn; None if none exists yet
    (areas land independently, so a missing page must not break this one)."""
    for endpoint in (endpoints,) if isinstance(endpoints, str) else endpoints:
        try:
            return url_for(endpoint, **values)
        except BuildError:
            continue
    return None


# Werkzeug's query-string encoding (werkzeug.urls._urlencode): these characters stay as they are.
QUERY_SAFE = "!$'()*,/:;?@"


class QueryUrls:
    """``safe_url(endpoint, **query)`` for pages with hundreds of links to pages without path
    arguments (the dashboard, the report's figures table).

    ``url_for`` costs 10–25 µs a link, so each endpoint's path is built once per page and each
    "name=value" pair encoded once, the way Werkzeug does; tests hold the results to ``url_for``'s.
    """

    def __init__(self):
        self._paths: dict[str, Optional[str]] = {}
        self._encoded: dict[tuple, str] = {}

    def __call__(self, endpoint: str, **query) -> Optional[str]:
        if endpoint not in self._paths:
            self._paths[endpoint] = safe_url(endpoint)
        path = self._paths[endpoint]
        if path is None:
            return None
        query_string = "&".join(self._encode(pair) for pair in query.items() if pair[1] is not None)
        return f"{path}?{query_string}" if query_string else path

    def _encode(self, pair: tuple) -> str:
        if pair not in self._encoded:
            self._encoded[pair] = urlencode([pair], safe=QUERY_SAFE)
        return self._encoded[pair]
