"""Forms of the pipeline views (municipalities, tasks)."""
from typing import Optional

from crm.clock import local_today
from crm.i18n import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional as OptionalValue, ValidationError

from crm.views.forms import VersionedForm, date_text_field, user_choices
from crm.models import STAGES


STAGE_CHOICES = [(code, label) for code, label in STAGES.items()]


# --- municipality page forms ----------------------------------------------------------------


class StageChangeForm(FlaskForm):
    """A (possibly backdated) stage change, or the correction of one."""

    stage = SelectField(_l("Fase"), choices=STAGE_CHOICES)
    effective_date = date_text_field(_l("Gælder fra"), validators=[InputRequired()], default=local_today)
    note = TextAreaField(_l("Bemærkning"), validators=[OptionalValue(), Length(max=2000)],
                         render_kw={"rows": 2})
    submit = SubmitField(_l("Gem faseændring"))

    def validate_effective_date(self, field):
        """A stage can be backdated but not set in the future: the history records what happened."""
        if field.data and field.data > local_today():
            raise ValidationError(_l("Datoen kan ikke ligge i fremtiden."))


class StageCorrectionForm(StageChangeForm):
    """The correction of a recorded stage change, optimistically locked like ``VersionedForm``."""

    version = HiddenField()


class MoveForm(FlaskForm):
    """The board card's "move to stage" form (the same route the drag-and-drop script posts to)."""

    stage = SelectField(_l("Flyt til fase"), choices=STAGE_CHOICES)
    submit = SubmitField(_l("Flyt"))


class NoteForm(FlaskForm):
    """A dated note on the municipality's timeline."""

    note_date = date_text_field(_l("Dato"), validators=[InputRequired()], default=local_today)
    text = TextAreaField(_l("Notat"), validators=[InputRequired(), Length(max=5000)], render_kw={"rows": 3})
    submit = SubmitField(_l("Tilføj notat"))


class TaskForm(VersionedForm):
    """A task on a municipality: what, who and by when (``version`` guards edits)."""

    text = TextAreaField(_l("Opgave"), validators=[InputRequired(message=_l("Skriv hvad der skal gøres.")),
                                                   Length(max=2000)], render_kw={"rows": 2})
    owner = SelectField(_l("Ansvarlig"), validators=[OptionalValue()])
    due = date_text_field(_l("Frist"), validators=[OptionalValue()])
    submit = SubmitField(_l("Gem opgave"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner.choices = user_choices()

    def owner_id(self) -> Optional[int]:
        """The chosen owner's id, or None for nobody."""
        try:
            return int(self.owner.data) if self.owner.data else None
        except (TypeError, ValueError):
            return None

