"""Demo materials: one in every workflow state, across the five regions (and one national), with
the expert panel's comments and verdicts. Each goes through ``crm.services.materials`` as the
people who would act (the ambassador, the working group, the panel), so the state history is
exactly what the workflow writes; only the times are moved back afterwards, to spread the
history over the last two years. The two national ``material`` activities are linked to the
materials they announced, so the status report counts each once.
"""
import io
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update
from werkzeug.datastructures import FileStorage

from crm.extensions import db
from crm.models import Activity, Material, MaterialComment, MaterialTransition, MaterialVersion
from crm.services import materials as service
from crm.services.materials import MaterialData, VersionData

DEMO_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")

# (title, kind, track, regions, state, summary). The first is published: the browser test opens
# the first material for every role, the expert panel included.
MATERIALS = (
    ("Vejledning: Skabelon til samarbejdsplan om IPS", "guide", 1, (1084,), "published",
     "Skabelon og vejledning til samarbejdsplanen mellem jobcenter og regionspsykiatri."),
    ("Pjece: Hvad er IPS? (til borgere og pårørende)", "other", 3, (), "published_twice",
     "Kort pjece om IPS til borgere og pårørende; opdateret med nye eksempler."),
    ("Slides: Introduktion til IPS for jobcentre", "slide_deck", 2, (1085,), "retired",
     "Præsentation til personalemøder i jobcentre."),
    ("Undervisningsmateriale: IPS-grundkursus for jobkonsulenter", "course_material", 2, (1082, 1083), "approved",
     "Materiale til tre kursusdage om IPS-metoden."),
    ("Video: Sådan arbejder et IPS-team", "video", 3, (1081,), "in_review",
     "Fem minutters video fra et IPS-team i Nordjylland."),
    ("Skabelon: Fælles handleplan mellem jobcenter og psykiatri", "template", 1, (1083,), "changes_requested",
     "Skabelon til den fælles handleplan for borgere i IPS."),
    ("Vejledning: Persongruppemarkering i sagssystemet", "guide", 1, (1085,), "submitted",
     "Sådan markeres borgere i IPS i jobcentrets sagssystem."),
    ("Tjekliste til forberedelse af fidelitetsmåling", "template", 4, (1084,), "draft", None),
)
COMMENTS = (
    "Afsnit 2 kan med fordel kortes; læseren skal hurtigt frem til selve skabelonen.",
    "Henvis til den nyeste version af fidelitetsskalaen.",
    "Eksemplerne er gode. Overvej et eksempel fra en mindre kommune.",
    "Sproget er tilgængeligt; tjek at alle forkortelser forklares første gang.",
)


def load(ctx) -> None:
    """Create the demo materials (called by ``crm.demo.load_demo``, which commits)."""
    panel, working_group, admin = ctx.expert_panel, ctx.working_group, ctx.admin
    for index, (title, kind, track, regions, state, summary) in enumerate(MATERIALS):
        owner = ctx.ambassadors[regions[0]] if regions else admin
        start = ctx.today - timedelta(days=600 - index * 55)
        clock = _Clock(start, ctx.today)
        first = VersionData(link=f"https://www.star.dk/ips/materialer/{index + 1}", note="Første udkast")
        if index == 0:
            first = VersionData(upload=FileStorage(io.BytesIO(DEMO_PDF), "samarbejdsplan-skabelon.pdf"),
                                note="Første udkast")
        material = service.create_material(
            MaterialData(title=title, kind=kind, track=track, summary=summary or "", region_codes=list(regions),
                         author_ids=[owner.id] if owner is not admin else []),
            first, actor=owner)
        clock.stamp(material)
        if state == "draft":
            continue
        _move(material, "submit", owner, clock)
        if state == "submitted":
            continue
        _move(material, "start_review", working_group, clock)
        _comment(material, panel, COMMENTS[index % len(COMMENTS)], clock)
        if state == "in_review":
            _comment(material, panel, COMMENTS[(index + 1) % len(COMMENTS)], clock)
            continue
        if state in ("changes_requested", "published", "published_twice"):
            _verdict(material, "changes_requested", panel, "Se kommentarerne; ret især afsnit 2 og eksemplerne.",
                     clock)
            if state == "changes_requested":
                continue
            _version(material, owner, "Rettet efter ekspertpanelets kommentarer", clock)
            _move(material, "submit", owner, clock)
            _move(material, "start_review", working_group, clock)
        _verdict(material, "approved", panel, "Godkendt.", clock)
        if state == "approved":
            continue
        _move(material, "publish", working_group, clock, publish=True)
        if state == "published_twice":
            _version(material, owner, "Nye eksempler fra kommunerne", clock)
            _move(material, "submit", owner, clock)
            _move(material, "start_review", working_group, clock)
            _verdict(material, "approved", panel, "Godkendt; fint med de nye eksempler.", clock)
            _move(material, "publish", admin, clock, publish=True)
        if state == "retired":
            _move(material, "retire", working_group, clock, note="Erstattes af det nye grundkursusmateriale.")
    _link_national_activities(admin)
    db.session.flush()


class _Clock:
    """The demo's times: each step some days after the one before, never later than yesterday."""

    def __init__(self, start: date, today: date):
        self.day = start
        self.last = today - timedelta(days=1)

    def next(self, days: int = 9) -> datetime:
        self.day = min(self.day + timedelta(days=days), self.last)
        return datetime.combine(self.day, time(9, 30))

    def stamp(self, material: Material, comment: MaterialComment | None = None,
              at: datetime | None = None) -> None:
        """Move what the service just wrote for ``material`` (its latest transition, and a version,
        verdict or comment stamped now) back to the demo's day. Core statements: the audit log
        keeps what the service wrote, not this bookkeeping."""
        at = at or self.next()
        latest = db.session.scalar(select(MaterialTransition.id).where(MaterialTransition.material_id == material.id)
                                   .order_by(MaterialTransition.id.desc()).limit(1))
        db.session.execute(update(MaterialTransition).where(MaterialTransition.id == latest).values(at=at))
        db.session.execute(update(MaterialVersion).where(MaterialVersion.material_id == material.id,
                                                         MaterialVersion.verdict_at.is_not(None))
                           .where(MaterialVersion.verdict_at > at).values(verdict_at=at))
        if comment is not None:
            db.session.execute(update(MaterialComment).where(MaterialComment.id == comment.id).values(created_at=at))
        db.session.execute(update(MaterialVersion).where(MaterialVersion.material_id == material.id,
                                                         MaterialVersion.created_at > at).values(created_at=at))
        db.session.execute(update(Material).where(Material.id == material.id, Material.created_at > at)
                           .values(created_at=at))
        db.session.commit()
        db.session.refresh(material)


def _move(material, action, actor, clock, note="", publish=False) -> None:
    at = clock.next()
    service.move(material, action, actor=actor, version=material.version, note=note,
                 on=clock.day if publish else None)
    clock.stamp(material, at=at)


def _verdict(material, verdict, panel, note, clock) -> None:
    service.give_verdict(material, verdict, note, actor=panel, version=material.version)
    clock.stamp(material)


def _comment(material, panel, text, clock) -> None:
    comment = service.add_comment(material.latest_version, text, actor=panel)
    clock.next(2)
    clock.stamp(material, comment)


def _version(material, owner, note, clock) -> None:
    number = len(material.versions) + 1
    service.add_version(material, VersionData(link=f"https://www.star.dk/ips/materialer/{material.id}/v{number}",
                                              note=note), actor=owner, version=material.version)
    clock.stamp(material)


def _link_national_activities(admin) -> None:
    """The national ``material`` activities announced the two national-level materials: link them."""
    pairs = {
        "Vejledning: Skabelon til samarbejdsplan om IPS": "Vejledning: Skabelon til samarbejdsplan om IPS",
        "Pjece: Hvad er IPS? (til borgere og pårørende)": "Pjece: Hvad er IPS? (til borgere og pårørende)",
    }
    for activity_title, material_title in pairs.items():
        activity = db.session.scalar(select(Activity).where(Activity.type == "material",
                                                            Activity.title == activity_title))
        material = db.session.scalar(select(Material).where(Material.title == material_title))
        if activity is not None and material is not None:
            service.link_activity(material, activity.id, actor=admin, version=material.version)
