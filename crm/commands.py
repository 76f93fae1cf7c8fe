"""Command-line interface: ``flask --app wsgi <command>``.

Commands act as an administrator and are audited as ``cli (admin)``.
"""
import sys
from functools import wraps

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from crm.audit import acting_as
from crm.extensions import db
from crm.models import ROLES, Region, User
from crm.models.user import ROLE_AMBASSADOR
from crm.services import accounts

CLI_ACTOR = "cli (admin)"

user_cli = AppGroup("user", help="Manage users.")

# The password policy's refusals (crm.services.accounts.password_problem), for the terminal.
PASSWORD_PROBLEMS = {
    "too_short": f"The password must be at least {accounts.MIN_PASSWORD_LENGTH} characters.",
    "too_long": f"The password must be at most {accounts.MAX_PASSWORD_LENGTH} characters.",
    "repetitive": "The password repeats too few different characters.",
    "common": "The password is on the list of commonly used passwords.",
    "personal": "The password must not contain the user's e-mail or name.",
}
import_cli = AppGroup("import", help="Import spreadsheets (CSV or XLSX).")
report_cli = AppGroup("report", help="Produce reports.")


def as_cli_admin(func_):
    """Run the command inside the app context, audited as the command-line administrator."""

    @wraps(func_)
    @with_appcontext
    def wrapper(*args, **kwargs):
        with acting_as(CLI_ACTOR):
            return func_(*args, **kwargs)

    return wrapper


@click.command("seed")
@as_cli_admin
def seed_command():
    """Load the 5 regions and 98 municipalities (idempotent)."""
    from crm.services.reference import seed_reference_data

    changed = seed_reference_data()
    click.echo(
        f"Regions: {db.session.scalar(select(func.count(Region.code)))} "
        f"({changed['regions']} added or corrected); "
        f"municipalities: {changed['municipalities']} added or corrected."
    )


@user_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--region", "region_code", type=int, help="Region code 1081–1085 (ambassadors).")
@click.option("--name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@as_cli_admin
def user_create(email, role, region_code, name, password_stdin):
    """Create a user; the password comes from a prompt or standard input."""
    email = email.strip().lower()
    if db.session.scalar(select(User).where(func.lower(User.email) == email)):
        raise click.ClickException(f"A user with e-mail {email} already exists.")
    if role == ROLE_AMBASSADOR and (region_code is None or db.session.get(Region, region_code) is None):
        raise click.ClickException("An ambassador needs --region with a code from 1081 to 1085.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = accounts.password_problem(password, email, name)
    if problem:
        raise click.ClickException(PASSWORD_PROBLEMS[problem])
    user = User(email=email, name=name, role=role, region_code=region_code if role == ROLE_AMBASSADOR else None)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created {role} {email}.")


@user_cli.command("list")
@as_cli_admin
def user_list():
    """List users."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        state = "active" if user.active else "disabled"
        click.echo(f"{user.email}\t{user.role}\t{user.region_code or ''}\t{state}")


@user_cli.command("disable")
@click.argument("email")
@as_cli_admin
def user_disable(email):
    """Disable a user: they can no longer sign in."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user with e-mail {email}.")
    try:
        accounts.set_active(user, False)  # also ends their sessions and feed link
    except accounts.UserError:
        db.session.rollback()
        raise click.ClickException(f"{user.email} is the last active administrator; make another user admin first.")
    db.session.commit()
    click.echo(f"Disabled {user.email}.")


@click.command("demo")
@click.option("--scale", type=int, default=0, help="Generate N synthetic activities over several years.")
@as_cli_admin
def demo_command(scale):
    """Load demo users and a small believable history (or a large synthetic one with --scale)."""
    from crm.demo import load_demo

    for line in load_demo(scale=scale):
        click.echo(line)


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(user_cli)
    app.cli.add_command(import_cli)
    app.cli.add_command(report_cli)
    from crm.cli.backup import backup_command, restore_command

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    from crm.cli.export import export_cli  # issue 16: the evaluator's data package

    app.cli.add_command(export_cli)
    # Areas add their own subcommands to the groups above when imported.
    from crm import cli_extensions  # noqa: F401
