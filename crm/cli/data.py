"""``flask --app wsgi seed`` (the reference data) and ``flask --app wsgi demo`` (demo data)."""
import click
from sqlalchemy import func, select

from crm.cli.common import as_cli_admin
from crm.extensions import db
from crm.models import Region


@click.command("seed")
@as_cli_admin
def seed_command():
    """Load the 5 regions, 98 municipalities, the anchoring items and the cost lines (idempotent)."""
    from crm.services.reference import seed_reference_data

    changed = seed_reference_data()
    click.echo(
        f"Regions: {db.session.scalar(select(func.count(Region.code)))} "
        f"({changed['regions']} added or corrected); "
        f"municipalities: {changed['municipalities']} added or corrected; "
        f"anchoring items: {changed['anchoring_items']} added; "
        f"cost lines: {changed['cost_lines']} added."
    )


@click.command("demo")
@click.option("--scale", type=int, default=0, help="Generate N synthetic activities over several years.")
@as_cli_admin
def demo_command(scale):
    """Load demo users and a small believable history (or a large synthetic one with --scale)."""
    from crm.demo import load_demo

    for line in load_demo(scale=scale):
        click.echo(line)
