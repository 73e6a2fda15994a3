"""Scope in one place: what a user may see, as SQL filters. Deny by default.

Every list, count and lookup of a scoped object goes through ``where(actor, Model)``. An
object out of scope is simply not found (404), and never appears in a list.

- ``admin`` sees everything;
- ``building_manager`` sees the buildings assigned to them;
- every other role sees the grids under the area nodes assigned to them.

Scope is defined over areas, the users' assignments and buildings, so this module imports
those three models (which import nothing of it) and states their rules itself. Every other
model joins the scope by registering how to reach its building or its area (``register``);
an unregistered model is visible to nobody but admins.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, Uuid, bindparam, exists, false, or_, select, true

from fieldapi.areas.models import Area
from fieldapi.buildings.models import Building
from fieldapi.users.models import UserArea, UserBuilding

AREA_ROLES = frozenset({"grid_staff", "officer", "fire_office", "fire_police"})


@dataclass(frozen=True)
class Actor:
    """The signed-in user a request acts for."""

    user_id: uuid.UUID
    username: str
    role: str
    session_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# The area tree read twice in one statement: as the grids seen, and as the areas assigned.
# Made once: building a scope filter runs on every request.
_grid = Area.__table__.alias("scope_grid")
_assigned = Area.__table__.alias("scope_assigned")
_anchor = Area.__table__.alias("scope_anchor")


def visible_grid_ids(actor: Actor) -> Select:
    """Ids of the grids an area-scoped actor covers (none for other roles)."""
    if actor.role not in AREA_ROLES:
        return select(_grid.c.id).where(false())
    covered = (
        select(1)
        .select_from(UserArea)
        .join(_assigned, _assigned.c.id == UserArea.area_id)
        .where(UserArea.user_id == actor.user_id, _grid.c.path.startswith(_assigned.c.path))
    )
    return select(_grid.c.id).where(_grid.c.kind == "grid", exists(covered))


def managed_building_ids(actor: Actor) -> Select:
    return select(UserBuilding.building_id).where(UserBuilding.user_id == actor.user_id)


def building_clause(actor: Actor, building_id, grid_id) -> ColumnElement[bool]:
    """Visibility of something that belongs to a building, given its building and grid columns."""
    if actor.is_admin:
        return true()
    if actor.role == "building_manager":
        return building_id.in_(managed_building_ids(actor))
    if actor.role in AREA_ROLES:
        return grid_id.in_(visible_grid_ids(actor))
    return false()


def area_clause(actor: Actor) -> ColumnElement[bool]:
    """Areas an actor may read: their subtree, and the ancestors that name where it lies."""
    if actor.is_admin:
        return true()
    anchor = _anchor.c
    if actor.role in AREA_ROLES:
        anchors = (
            select(anchor.path)
            .join(UserArea, UserArea.area_id == anchor.id)
            .where(UserArea.user_id == actor.user_id)
        )
    elif actor.role == "building_manager":
        anchors = (
            select(anchor.path)
            .join(Building, Building.grid_id == anchor.id)
            .where(Building.id.in_(managed_building_ids(actor)))
        )
    else:
        return false()
    paths = anchors.subquery()
    return exists(
        select(1).where(or_(Area.path.startswith(paths.c.path), paths.c.path.startswith(Area.path)))
    )


_REGISTRY: dict[type, Callable[[Actor], ColumnElement[bool]]] = {}


def register(model: type, clause: Callable[[Actor], ColumnElement[bool]]) -> None:
    _REGISTRY[model] = clause


def where(actor: Actor, model: type) -> ColumnElement[bool]:
    """The SQL condition under which ``actor`` sees rows of ``model``."""
    if actor.is_admin:
        return true()
    rule = _REGISTRY.get(model)
    return rule(actor) if rule is not None else false()


def scoped(actor: Actor, model: type) -> Select:
    """``select(model)`` already limited to the actor's scope."""
    return select(model).where(where(actor, model))


def register_building_child(model: type) -> None:
    """A model with a ``building_id`` is visible where its building is."""

    def clause(actor: Actor) -> ColumnElement[bool]:
        return model.building_id.in_(select(Building.id).where(where(actor, Building)))

    register(model, clause)


register(Area, area_clause)
register(Building, lambda actor: building_clause(actor, Building.id, Building.grid_id))

# Hot reads build their statement once per role, the actor's id left as a parameter, and
# run it with each actor's id: the same scope rules, without assembling the SQL anew on
# every request.
ACTOR_ID = "scope_actor_id"
_PREPARED: dict[tuple[str, str], Select] = {}


def prepared(name: str, actor: Actor, build: Callable[[Actor], Select]) -> tuple[Select, dict]:
    """``build(actor)`` made once per role under ``name``; returns it and its parameters."""
    key = (name, actor.role)
    stmt = _PREPARED.get(key)
    if stmt is None:
        placeholder = Actor(user_id=bindparam(ACTOR_ID, type_=Uuid()), username="", role=actor.role)
        stmt = _PREPARED[key] = build(placeholder)
    return stmt, {ACTOR_ID: actor.user_id}
