"""The fidelity review form: the review's facts and one score (1–5 or not rated) plus an optional
comment for each of the scale's 25 items, grouped by section."""
from typing import Optional

from crm.clock import local_today
from crm.i18n import gettext as _
from crm.i18n import lazy_gettext as _l
from sqlalchemy import select
from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.validators import Optional as OptionalValue

from crm.extensions import db
from crm.views.forms import DanishDateField, VersionedForm
from crm.models import FidelityReview, PsychiatricCentre
from crm.services.fidelity import MAX_SCORE, MIN_SCORE, ScaleItem, items_by_section, scale_items

NOT_RATED = ""
SCORE_CHOICES = [(NOT_RATED, _l("Ikke vurderet"))] + [(str(n), str(n)) for n in range(MIN_SCORE, MAX_SCORE + 1)]


def score_field(item: ScaleItem) -> str:
    """Form field name of an item's score ('Services-4' → 'score_services_4')."""
    return "score_" + item.key.lower().replace("-", "_")


def comment_field(item: ScaleItem) -> str:
    """Form field name of an item's comment."""
    return "comment_" + item.key.lower().replace("-", "_")


class ReviewForm(VersionedForm):
    """Record or edit a review; the 25 item fields are added below the class."""

    review_date = DanishDateField(_l("Dato for målingen"), validators=[InputRequired()])
    centre = SelectField(_l("Psykiatrisk enhed"), validators=[OptionalValue()])
    team = StringField(_l("Team eller enhed, der er målt"), validators=[OptionalValue(), Length(max=200)])
    reviewers = StringField(_l("Bedømmere"), validators=[OptionalValue(), Length(max=500)],
                            description=_l("Navne på dem, der gennemførte målingen."))
    action_plan = TextAreaField(_l("Aftalt handleplan"), validators=[OptionalValue(), Length(max=10000)],
                                render_kw={"rows": 5})
    submit = SubmitField(_l("Gem måling"))

    def __init__(self, *args, region_code: int, **kwargs):
        """Centres of the municipality's region; item labels in the reader's language."""
        super().__init__(*args, **kwargs)
        centres = db.session.scalars(
            select(PsychiatricCentre).where(PsychiatricCentre.region_code == region_code)
            .order_by(PsychiatricCentre.name)
        ).all()
        self.centre.choices = [("", str(_l("— ikke angivet —")))] + [(str(c.id), c.name) for c in centres]
        # Item names follow the reader's language, so set them per request.
        for item in scale_items():
            self[score_field(item)].label.text = f"{item.number}. {item.name}"
            self[comment_field(item)].label.text = _("Kommentar til %(item)s", item=f"{item.section_label} {item.number}")

    def validate_review_date(self, field):
        """A review has taken place: its date cannot lie in the future."""
        if field.data and field.data > local_today():
            raise ValidationError(_("Datoen må ikke ligge i fremtiden."))

    def sections(self):
        """(section name, [(item, score field, comment field)]) for the template."""
        return [(label, [(item, self[score_field(item)], self[comment_field(item)]) for item in items])
                for _code, label, items in items_by_section()]

    def fill_from(self, review: FidelityReview) -> None:
        """Show a stored review (GET of the edit page)."""
        self.review_date.data = review.review_date
        self.centre.data = str(review.centre_id or "")
        self.team.data = review.team
        self.reviewers.data = review.reviewers
        self.action_plan.data = review.action_plan
        self.version.data = review.version
        stored = {r.item_key: r for r in review.ratings}
        for item in scale_items():
            rating = stored.get(item.key)
            self[score_field(item)].data = str(rating.score) if rating and rating.score is not None else NOT_RATED
            self[comment_field(item)].data = rating.comment if rating else ""

    def review_values(self) -> dict:
        """The review's own fields for ``crm.services.fidelity.save_review``."""
        return {
            "review_date": self.review_date.data,
            "centre_id": int(self.centre.data) if self.centre.data else None,
            "team": self.team.data,
            "reviewers": self.reviewers.data,
            "action_plan": self.action_plan.data,
        }

    def ratings(self) -> dict[str, tuple[Optional[int], Optional[str]]]:
        """Item key → (score or None, comment) as submitted."""
        result = {}
        for item in scale_items():
            raw = self[score_field(item)].data
            result[item.key] = (int(raw) if raw not in (None, NOT_RATED) else None,
                                self[comment_field(item)].data or None)
        return result


for _item in scale_items():
    setattr(ReviewForm, score_field(_item), RadioField(_item.key, choices=SCORE_CHOICES, default=NOT_RATED))
    setattr(ReviewForm, comment_field(_item), TextAreaField(
        _item.key, validators=[OptionalValue(), Length(max=2000)], render_kw={"rows": 1}))
del _item
