"""User text made safe for line-based formats: iCalendar content lines and e-mail headers.

Both formats end a property or header at a line break, and neither allows control characters
(RFC 5545 3.3.11 TEXT, RFC 5322 2.2). A title typed or imported with CR/LF, NUL or an escape
sequence must therefore never reach them as it is: it would end the line early (a forged
``ATTENDEE:`` or ``Bcc:``) or make the file invalid. Line breaks are normalised to LF, which the
iCalendar writer escapes as ``\\n`` in text values; where a value must stay on one line (a
header, a calendar's name) they become spaces.
"""
import re
from typing import Optional

# C0 controls except TAB and LF, DEL, and the C1 controls; also the Unicode line and paragraph
# separators, which some readers treat as line breaks.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_BLANKS = re.compile(r"[ \t\n]+")


def clean_text(value: Optional[str], *, single_line: bool = False, max_length: Optional[int] = None) -> str:
    """``value`` without control characters; line breaks as LF, or as spaces with ``single_line``
    (then runs of white space are one space). Cut to ``max_length`` characters, ending in "…"."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    if single_line:
        text = _BLANKS.sub(" ", text).strip()
    if max_length is not None and len(text) > max_length:
        text = text[: max(0, max_length - 1)].rstrip() + "…"
    return text
