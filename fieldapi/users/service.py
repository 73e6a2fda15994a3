"""Accounts: admins create and change them; everyone reads their own."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, Uuid, bindparam, func, literal, select, true, union_all
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from fieldapi.areas.models import Area
from fieldapi.audit import service as audit
from fieldapi.auth.passwords import Passwords
from fieldapi.auth.service import revoke_user_sessions
from fieldapi.core import direct, scope
from fieldapi.core.db import created_once, utcnow
from fieldapi.core.etag import make_etag, require_match
from fieldapi.core.pagination import paginate
from fieldapi.core.problems import Conflict, NotFound, PreconditionFailed, ValidationFailed
from fieldapi.core.scope import AREA_ROLES, Actor
from fieldapi.users.models import User, UserArea, UserBuilding


def user_etag(user: User) -> str:
    return make_etag("user", user.id, user.version)


def _check_assignments(db: Session, role: str, area_ids: list, building_ids: list) -> None:
    errors = []
    if role == "building_manager" and area_ids:
        errors.append({"pointer": "/area_ids", "detail": "Building managers are given buildings."})
    if role != "building_manager" and building_ids:
        errors.append(
            {"pointer": "/building_ids", "detail": "Only building managers get buildings."}
        )
    if role == "admin" and area_ids:
        errors.append({"pointer": "/area_ids", "detail": "Admins see everything; give no areas."})
    if errors:
        raise ValidationFailed(errors=errors)
    from fieldapi.buildings.models import Building

    for pointer, model, ids in (
        ("/area_ids", Area, area_ids),
        ("/building_ids", Building, building_ids),
    ):
        if not ids:
            continue
        found = set(db.scalars(select(model.id).where(model.id.in_(ids))))
        errors.extend(
            {"pointer": f"{pointer}/{i}", "detail": "No such record."}
            for i, value in enumerate(ids)
            if value not in found
        )
    if errors:
        raise ValidationFailed(errors=errors)


def _assign(user: User, area_ids: list, building_ids: list) -> None:
    user.area_links = [UserArea(area_id=a) for a in dict.fromkeys(area_ids)]
    user.building_links = [UserBuilding(building_id=b) for b in dict.fromkeys(building_ids)]


def _kept_assignments(user: User, role: str) -> tuple[list, list]:
    """What an account keeps when its role changes and no new assignments are given."""
    if role == user.role:
        return user.area_ids, user.building_ids
    if role in AREA_ROLES and user.role in AREA_ROLES:
        return user.area_ids, []  # an officer made fire office still covers the same streets
    return [], []


def _audit(db: Session, actor: Actor | None, action: str, user: User, details: dict) -> None:
    audit.record(
        db, actor=actor, action=action, object_type="user", object_id=user.id, details=details
    )


def create_user(
    *, db: Session, passwords: Passwords, data: dict[str, Any], actor: Actor | None = None
) -> User:
    """Create an account; the username is stored in lower case, the password as Argon2id."""
    username = data["username"].strip().lower()
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("That username is taken.")
    if data.get("id") and db.get(User, data["id"]) is not None:
        raise Conflict("An account with this id already exists.")
    _check_assignments(db, data["role"], data["area_ids"], data["building_ids"])
    user = User(
        id=data.get("id") or uuid.uuid4(),
        username=username,
        role=data["role"],
        display_name=data.get("display_name"),
        phone=data.get("phone"),
        active=data["active"],
        password_hash=passwords.hash(data["password"]),
    )
    _assign(user, data["area_ids"], data["building_ids"])
    db.add(user)
    db.flush()
    _audit(db, actor, "user.create", user, _account_facts(user))
    return user


@created_once(User)
def open_user(
    *, db: Session, passwords: Passwords, data: dict[str, Any], actor: Actor | None = None
) -> tuple[User, bool]:
    """Create an account, or, when its client-chosen id exists with the same content (the
    password included), answer the stored one (``False``). Other content is a conflict."""
    existing = db.get(User, data["id"]) if data.get("id") else None
    if existing is None:
        return create_user(db=db, passwords=passwords, data=data, actor=actor), True
    sent = (
        data["username"].strip().lower(),
        data["role"],
        data.get("display_name"),
        data.get("phone"),
        data["active"],
        set(data["area_ids"]),
        set(data["building_ids"]),
    )
    stored = (
        existing.username,
        existing.role,
        existing.display_name,
        existing.phone,
        existing.active,
        set(existing.area_ids),
        set(existing.building_ids),
    )
    if sent == stored and passwords.verify(existing.password_hash, data["password"]):
        return existing, False
    raise Conflict("An account with this id exists, with other content.")


def _account_facts(user: User) -> dict[str, Any]:
    """What the audit keeps of an account: never the password or its hash."""
    return {
        "username": user.username,
        "role": user.role,
        "active": user.active,
        "area_ids": [str(a) for a in user.area_ids],
        "building_ids": [str(b) for b in user.building_ids],
    }


# Everyone sees their own account; admins see every account.
scope.register(User, lambda actor: User.id == actor.user_id)


def get_user(*, db: Session, actor: Actor, user_id: uuid.UUID) -> User:
    """An account in the actor's scope (their own, or any for admins)."""
    user = db.scalar(scope.scoped(actor, User).where(User.id == user_id))
    if user is None:
        raise NotFound()
    return user


def _me(actor: Actor) -> Select:
    me = bindparam("me", type_=Uuid())
    links = union_all(
        select(literal("area").label("kind"), UserArea.area_id.label("link_id")).where(
            UserArea.user_id == me
        ),
        select(literal("building"), UserBuilding.building_id).where(UserBuilding.user_id == me),
    ).subquery()
    u = User
    return (
        select(
            u.id,
            u.username,
            u.display_name,
            u.phone,
            u.role,
            u.active,
            u.created_at,
            u.updated_at,
            links.c.kind,
            links.c.link_id,
        )
        .outerjoin(links, true())
        .where(u.id == me, scope.where(actor, User))
        .order_by(links.c.kind, links.c.link_id)
    )


def me(*, db: Session, actor: Actor) -> dict[str, Any]:
    """The actor's own account as ``UserSchema`` describes it, with the areas or buildings
    of their scope: one statement."""
    stmt, params = scope.prepared("me", actor, _me)
    rows = direct.rows(db, stmt, {**params, "me": actor.user_id})
    if not rows:
        raise NotFound()
    user_id, username, display_name, phone, role, active, created_at, updated_at = rows[0][:8]
    links: dict[str, list[uuid.UUID]] = {"area": [], "building": []}
    for *_, kind, link_id in rows:
        if kind is not None:
            links[kind].append(link_id)
    return {
        "id": user_id,
        "username": username,
        "display_name": display_name,
        "phone": phone,
        "role": role,
        "active": active,
        "area_ids": links["area"],
        "building_ids": links["building"],
        "created_at": created_at,
        "updated_at": updated_at,
    }


def list_users(
    *,
    db: Session,
    actor: Actor,
    role: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[User], str | None]:
    """One page of accounts by username, optionally of one role or matching ``q``."""
    stmt = scope.scoped(actor, User)
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(User.username.like(pattern) | func.lower(User.display_name).like(pattern))
    return paginate(
        db,
        stmt,
        order_by=[User.username],
        key=lambda u: [u.username],
        parse=[str],
        limit=limit,
        cursor=cursor,
    )


def update_user(
    *,
    db: Session,
    passwords: Passwords,
    actor: Actor,
    user_id: uuid.UUID,
    data: dict[str, Any],
    if_match: str | None,
) -> User:
    """Change an account. A new password, a new role or deactivation ends its sessions."""
    user = get_user(db=db, actor=actor, user_id=user_id)
    require_match(if_match, user_etag(user))
    role = data.get("role", user.role)
    kept_areas, kept_buildings = _kept_assignments(user, role)
    area_ids = data.get("area_ids", kept_areas)
    building_ids = data.get("building_ids", kept_buildings)
    _check_assignments(db, role, area_ids, building_ids)
    ends_sessions = "password" in data or data.get("active") is False or role != user.role
    for name in ("display_name", "phone", "active"):
        if name in data:
            setattr(user, name, data[name])
    if "password" in data:
        user.password_hash = passwords.hash(data["password"])
        user.password_changed_at = utcnow()
    user.role = role
    _assign(user, area_ids, building_ids)
    user.updated_at = utcnow()
    try:
        db.flush()
    except StaleDataError:
        # Another admin saved this account between our read and our write.
        raise PreconditionFailed() from None
    if ends_sessions:
        revoke_user_sessions(db=db, user_id=user.id, reason="account_changed")
    _audit(
        db,
        actor,
        "user.update",
        user,
        {**_account_facts(user), "password_changed": "password" in data},
    )
    return user
