"""Operator commands: ``flask --app wsgi db upgrade | create-admin | demo-seed``."""

from __future__ import annotations

import os

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from fieldapi.core import migrate

db_cli = AppGroup("db", help="Database migrations.")


def _engine():
    return current_app.extensions["fieldapi.engine"]


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head). At head, then publish the default
    self-check for every use type that has no checklist template yet, and build the sync
    documents and building files that are missing or out of date."""
    migrate.upgrade(_engine(), revision)
    click.echo(f"database at {', '.join(sorted(migrate.current_heads(_engine()))) or 'base'}")
    if revision == "head":
        made = _publish_default_templates()
        click.echo(f"published {made} default templates" if made else "checklist templates present")
        _fill_documents(everything=False, asked=False)
        _fill_building_files()


def _fill_building_files() -> None:
    from fieldapi.buildings import files

    with current_app.extensions["fieldapi.sessionmaker"]() as session, session.begin():
        built = files.fill(session)
    if built:
        click.echo(f"building files built: {built}")


def _publish_default_templates() -> int:
    """Version 1 of the default self-check for each use type without any template, through
    the service (audited, and told to syncing phones); a use type with a template, default
    or an admin's, is left as it is. How many were published."""
    from fieldapi.checklists.defaults import ensure_defaults

    with current_app.extensions["fieldapi.sessionmaker"]() as session, session.begin():
        return len(ensure_defaults(session))


def _fill_documents(*, everything: bool, asked: bool = True) -> None:
    from fieldapi.sync import documents

    with current_app.extensions["fieldapi.sessionmaker"]() as session, session.begin():
        if not documents.kept(session):
            if asked:
                click.echo("sync documents are kept on PostgreSQL only")
            return
        built = documents.fill(session, everything=everything)
    if any(built.values()):
        click.echo("sync documents built: " + ", ".join(f"{n} {k}" for k, n in built.items()))
    else:
        click.echo("sync documents up to date")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step migrations back down to REVISION."""
    migrate.downgrade(_engine(), revision)
    click.echo(f"database at {', '.join(sorted(migrate.current_heads(_engine()))) or 'base'}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--rev-id", required=True, help="e.g. 20261123_02")
def db_revision(message: str, rev_id: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    migrate.revision(_engine(), message, rev_id)


@click.command("create-admin")
@click.argument("username")
@with_appcontext
def create_admin(username: str) -> None:
    """Create an admin account (password from FIELDAPI_ADMIN_PASSWORD, else prompted)."""
    from fieldapi.users.models import User
    from fieldapi.users.service import create_user

    password = os.environ.get("FIELDAPI_ADMIN_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    with current_app.extensions["fieldapi.sessionmaker"]() as session, session.begin():
        if session.scalar(select(User.id).where(User.username == username.lower())):
            raise click.ClickException(f"user {username!r} already exists")
        from marshmallow import ValidationError

        from fieldapi.users.schemas import UserCreateSchema

        try:
            data = UserCreateSchema().load(
                {"username": username.lower(), "password": password, "role": "admin"}
            )
        except ValidationError as exc:
            raise click.ClickException(f"not created: {exc.messages}") from None
        create_user(db=session, passwords=current_app.extensions["fieldapi.passwords"], data=data)
    click.echo(f"admin {username.lower()!r} created")


@click.command("demo-seed")
@with_appcontext
def demo_seed() -> None:
    """Fill an empty database with a demo district, its buildings and one account per role."""
    from fieldapi.demo.seed import seed
    from fieldapi.fieldwork.policy import Policy

    with current_app.extensions["fieldapi.sessionmaker"]() as session, session.begin():
        accounts = seed(
            session,
            passwords=current_app.extensions["fieldapi.passwords"],
            blobs=current_app.extensions["fieldapi.blobs"],
            policy=Policy.current(),
        )
    if not accounts:
        click.echo("demo data already present; nothing done")
        return
    click.echo("demo accounts (username / password / role):")
    for username, password, role in accounts:
        click.echo(f"  {username:<12}  {password:<22}  {role}")


audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Walk the audit chain and report the first broken link (exit 1 when broken)."""
    from fieldapi.audit.service import verify

    with current_app.extensions["fieldapi.sessionmaker"]() as session:
        verdict = verify(session)
    if verdict.ok:
        click.echo(f"audit trail intact: {verdict.checked} events")
        return
    click.echo(
        f"audit trail BROKEN at event {verdict.broken_at}: {verdict.reason} "
        f"({verdict.checked} events before it hold)",
        err=True,
    )
    raise SystemExit(1)


photos_cli = AppGroup("photos", help="Photo evidence housekeeping.")


@photos_cli.command("gc")
def photos_gc() -> None:
    """Remove expired upload slots and unreferenced objects; finish half-verified photos."""
    from fieldapi.core.db import utcnow
    from fieldapi.photos.jobs import collect_garbage

    with current_app.extensions["fieldapi.sessionmaker"]() as session:
        report = collect_garbage(
            db=session, blobs=current_app.extensions["fieldapi.blobs"], now=utcnow()
        )
    for line in report.lines():
        click.echo(line)


fieldwork_cli = AppGroup("fieldwork", help="Checklists and hazards.")


@fieldwork_cli.command("install-templates")
def install_templates() -> None:
    """Publish the default fire-safety self-check for every use type that has no template
    (``db upgrade`` does it too)."""
    click.echo(f"published {_publish_default_templates()} default templates")


@fieldwork_cli.command("refresh-risk")
def refresh_risk() -> None:
    """Recompute every building's risk level (run daily: hazards become overdue with time)."""
    from fieldapi.fieldwork.risk import refresh_all_risks

    with current_app.extensions["fieldapi.sessionmaker"]() as session, session.begin():
        changed = refresh_all_risks(session)
    click.echo(f"risk level changed for {changed} buildings")


idempotency_cli = AppGroup("idempotency", help="Idempotency keys of POST requests.")


@idempotency_cli.command("prune")
def idempotency_prune() -> None:
    """Forget Idempotency-Keys older than FIELDAPI_IDEMPOTENCY_HOURS (run hourly or daily)."""
    from datetime import timedelta

    from fieldapi.core.db import utcnow
    from fieldapi.core.idempotency import prune

    hours = current_app.extensions["fieldapi.settings"].idempotency_hours
    with current_app.extensions["fieldapi.sessionmaker"]() as session, session.begin():
        removed = prune(session, now=utcnow(), keep=timedelta(hours=hours))
    click.echo(f"removed {removed} idempotency keys older than {hours} hours")


sync_cli = AppGroup("sync", help="Offline sync.")


@sync_cli.command("documents")
@click.option("--rebuild", is_flag=True, help="Build every document again, not only the stale.")
@click.option("--check", is_flag=True, help="Only list the documents that are out of date.")
def sync_documents(rebuild: bool, check: bool) -> None:
    """Build the stored sync documents (PostgreSQL) that are missing or out of date."""
    from fieldapi.sync import documents

    if check:
        with current_app.extensions["fieldapi.sessionmaker"]() as session:
            stale = documents.stale(session)
        for entity, object_id in stale:
            click.echo(f"{entity} {object_id}")
        if stale:
            raise click.ClickException(f"{len(stale)} sync documents out of date")
        click.echo("sync documents up to date")
        return
    _fill_documents(everything=rebuild)


@sync_cli.command("prune")
def sync_prune() -> None:
    """Forget sync changes and scopes older than FIELDAPI_SYNC_KEEP_DAYS (run daily)."""
    from datetime import timedelta

    from fieldapi.core.db import utcnow
    from fieldapi.sync.changes import prune

    days = current_app.extensions["fieldapi.settings"].sync_keep_days
    with current_app.extensions["fieldapi.sessionmaker"]() as session, session.begin():
        changes, scopes = prune(session, now=utcnow(), keep=timedelta(days=days))
    click.echo(f"removed {changes} sync changes and {scopes} sync scopes older than {days} days")


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(create_admin)
    app.cli.add_command(demo_seed)
    app.cli.add_command(audit_cli)
    app.cli.add_command(photos_cli)
    app.cli.add_command(fieldwork_cli)
    app.cli.add_command(idempotency_cli)
    app.cli.add_command(sync_cli)
