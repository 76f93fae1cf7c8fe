"""``flask --app wsgi user create|list|disable|reset-second-factor``: user accounts from the command line."""
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from crm.cli.common import as_cli_admin
from crm.extensions import db
from crm.models import ROLES, Region, User
from crm.models.user import ROLE_AMBASSADOR
from crm.services import accounts, second_factor
from crm.services.errors import FieldError

user_cli = AppGroup("user", help="Manage users.")

# The password policy's refusals (crm.services.accounts.password_problem), for the terminal.
PASSWORD_PROBLEMS = {
    "too_short": f"The password must be at least {accounts.MIN_PASSWORD_LENGTH} characters.",
    "too_long": f"The password must be at most {accounts.MAX_PASSWORD_LENGTH} characters.",
    "repetitive": "The password repeats too few different characters.",
    "common": "The password is on the list of commonly used passwords.",
    "personal": "The password must not contain the user's e-mail or name.",
}
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


@user_cli.command("reset-second-factor")
@click.argument("email")
@click.option("--reason", required=True, help="Why (kept in the audit log), e.g. 'Lost phone'.")
@as_cli_admin
def user_reset_second_factor(email, reason):
    """Turn off a user's second factor (TOTP and recovery codes) and end their sessions."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user with e-mail {email}.")
    try:
        second_factor.reset_from_command_line(user, reason)
    except FieldError as error:
        raise click.ClickException(str(error))
    click.echo(f"Second factor of {user.email} reset; they enrol again at the next sign-in where it is required.")
