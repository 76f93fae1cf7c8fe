"""Demo data: users for every role and a small believable history, grown area by area.

``load_demo`` is idempotent: when the demo users exist, the history is not loaded again.
Each area module exposes ``load(ctx)``; they run in the order below because later areas build on
earlier ones (activities refer to municipalities in dialogue, reviews to signed plans…).
"""
import random
from dataclasses import dataclass, field
from datetime import date
from importlib import import_module

from sqlalchemy import select

from crm.clock import local_today
from crm.extensions import db
from crm.models import Region, User
from crm.models.user import ROLE_ADMIN, ROLE_AMBASSADOR, ROLE_EXPERT_PANEL, ROLE_WORKING_GROUP
from crm.services.reference import seed_reference_data

DEMO_PASSWORD = "ips-samarbejde-2026"
AREA_MODULES = (
    "crm.demo.pipeline",
    "crm.demo.activities",
    "crm.demo.fidelity",
    "crm.demo.outcomes",
    "crm.demo.materials",
    "crm.demo.anchoring",
    "crm.demo.grants",
    "crm.demo.saved_reports",
)
AMBASSADOR_EMAILS = {
    1084: "hovedstaden@demo.ips.dk",
    1085: "sjaelland@demo.ips.dk",
    1083: "syddanmark@demo.ips.dk",
    1082: "midtjylland@demo.ips.dk",
    1081: "nordjylland@demo.ips.dk",
}


@dataclass
class DemoContext:
    """What area loaders share: a seeded random generator, today, the demo users, the scale."""

    rng: random.Random
    today: date
    scale: int
    ambassadors: dict[int, User] = field(default_factory=dict)
    admin: User | None = None
    working_group: User | None = None
    expert_panel: User | None = None
    dk_version: tuple | None = None  # (id, active since) of IPS-25 DK, set by crm.demo.fidelity


def _make_user(email: str, name: str, role: str, region_code: int | None = None) -> User:
    user = User(email=email, name=name, role=role, region_code=region_code)
    user.set_password(DEMO_PASSWORD)
    db.session.add(user)
    return user


def _create_users(ctx: DemoContext) -> None:
    ctx.admin = _make_user("admin@demo.ips.dk", "Demo Administrator", ROLE_ADMIN)
    ctx.working_group = _make_user("arbejdsgruppe@demo.ips.dk", "Demo Arbejdsgruppe", ROLE_WORKING_GROUP)
    ctx.expert_panel = _make_user("ekspertpanel@demo.ips.dk", "Demo Ekspertpanel", ROLE_EXPERT_PANEL)
    for region in db.session.scalars(select(Region).order_by(Region.code)):
        ctx.ambassadors[region.code] = _make_user(
            AMBASSADOR_EMAILS[region.code], f"Ambassadør {region.short_name}", ROLE_AMBASSADOR, region.code
        )
    db.session.flush()


def load_demo(scale: int = 0, today: date | None = None, seed: int = 2026) -> list[str]:
    """Load demo users and history; returns lines to print (the credentials)."""
    seed_reference_data()
    from crm.services.instruments import seed_ips25

    seed_ips25()  # a database built by create_all lacks what the data migration creates
    lines = []
    if db.session.scalar(select(User).where(User.email == "admin@demo.ips.dk")) is None:
        ctx = DemoContext(rng=random.Random(seed), today=today or local_today(), scale=scale)
        _create_users(ctx)
        if scale > 0:  # a large synthetic history instead of the small believable one
            lines += import_module("crm.demo.scale").load(ctx)
        else:
            for module_name in AREA_MODULES:
                import_module(module_name).load(ctx)
        db.session.commit()
        lines.append("Demo data loaded.")
    else:
        lines.append("Demo data already present; nothing loaded.")
    lines.append(f"Demo users (password: {DEMO_PASSWORD}):")
    lines.append("  admin@demo.ips.dk          administrator")
    lines.append("  arbejdsgruppe@demo.ips.dk  national working group (read-only; decides publication of materials)")
    lines.append("  ekspertpanel@demo.ips.dk   STAR's expert panel (materials area only: comments and verdicts)")
    for code, email in sorted(AMBASSADOR_EMAILS.items()):
        lines.append(f"  {email:<26} ambassador, region {code}")
    return lines
