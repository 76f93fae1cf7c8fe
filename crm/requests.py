"""The app's request class: uploaded files stay in memory while a request is handled.

Werkzeug spools an uploaded file above 500 kB to a temporary file on disk. An upload is checked
before anything of it is kept (the outcome import refuses files with personal data, and a refused
file must never be written to disk), so every upload is held in memory instead; its size is
bounded by ``MAX_CONTENT_LENGTH`` (``MAX_UPLOAD_BYTES`` plus 1 MB).
"""
import io
from typing import IO, Optional

from flask import Request


class CrmRequest(Request):
    """A Flask request whose uploaded files are never spooled to disk."""

    def _get_file_stream(self, total_content_length: Optional[int], content_type: Optional[str],
                         filename: Optional[str] = None, content_length: Optional[int] = None) -> IO[bytes]:
        return io.BytesIO()
