"""Automatic notes: what the system writes on a record by itself, stored as a code and parameters
(``note_kind`` and ``note_params`` on stage changes and activities) and put into words only when
shown, in the reader's language. A stage code among the parameters comes out as the stage's label
in that language, an ISO date as 23-11-2026.

``crm/migrations`` (revision 5d1c0a7e9b21) turned the notes stored as Danish text before this
module existed into codes where they could be recognised.
"""
from datetime import date
from typing import Any, Mapping, Optional

from crm.formatting import format_date
from crm.i18n import lazy_gettext as _l

PLAN_SIGNED = "plan_signed"
CALENDAR_IMPORT = "calendar_import"

# kind -> Danish msgid with %(name)s for each parameter.
KINDS = {
    PLAN_SIGNED: _l("Samarbejdsplan underskrevet: %(title)s"),
    CALENDAR_IMPORT: _l("Importeret fra kalender"),
}


def render(kind: Optional[str], params: Optional[Mapping[str, Any]] = None) -> str:
    """The note in the current language ("" for no note; an unknown kind shows its code)."""
    if not kind:
        return ""
    template = KINDS.get(kind)
    if template is None:
        return kind
    text = str(template)
    return text % _words(params or {}) if "%(" in text else text


def _words(params: Mapping[str, Any]) -> dict[str, str]:
    from crm.models import STAGES

    words = {}
    for name, value in params.items():
        if (name == "stage" or name.endswith("_stage")) and value in STAGES:
            value = str(STAGES[value])
        elif name == "date" or name.endswith("_date"):
            try:
                value = format_date(date.fromisoformat(str(value)))
            except ValueError:
                pass
        words[name] = "" if value is None else str(value)
    return words


def note_text(record: Any) -> str:
    """A stage change's or activity's whole note as one text: the automatic note, then what a
    person wrote (for exports, feeds and e-mails)."""
    parts = [render(getattr(record, "note_kind", None), getattr(record, "note_params", None)),
             (record.note or "").strip()]
    return "\n\n".join(part for part in parts if part)
