"""Named personas and a small district, built through the services as the API would.

district Futian
├── street Shahe ─┬─ community Shuiwei ─┬─ grid G1  (building B1, managed by mgr1)
│                 │                     └─ grid G2  (building B2)
│                 └─ community Huanggang ── grid G3 (building B3)
└── street Xiangmihu ── community Zhuzilin ── grid G4 (building B4: outside every persona but admin)

Personas (one per role): admin; mgr1 (B1); gw1 (grid G1); officer1 (Shuiwei: G1, G2);
office1 (Shahe: G1-G3); police1 (Shahe: G1-G3).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from fieldapi.areas.service import create_area
from fieldapi.buildings.service import create_building
from fieldapi.core.scope import Actor
from fieldapi.users.service import create_user

PASSWORD = "correct horse battery"

PERSONAS = {
    "admin": ("admin", [], []),
    "mgr1": ("building_manager", [], ["B1"]),
    "gw1": ("grid_staff", ["G1"], []),
    "officer1": ("officer", ["Shuiwei"], []),
    "office1": ("fire_office", ["Shahe"], []),
    "police1": ("fire_police", ["Shahe"], []),
}

ROLE_PERSONA = {role: name for name, (role, _a, _b) in PERSONAS.items()}


@dataclass
class World:
    password: str
    areas: dict[str, uuid.UUID] = field(default_factory=dict)
    buildings: dict[str, uuid.UUID] = field(default_factory=dict)
    users: dict[str, uuid.UUID] = field(default_factory=dict)


def building_payload(code: str, grid_id: uuid.UUID, **extra) -> dict:
    payload = {
        "code": code,
        "name": f"Building {code}",
        "address": f"{code} Shuiwei Road, Futian",
        "grid_id": grid_id,
        "location": {"lat": 22.528, "lon": 114.063},
        "use_type": "residential",
    }
    payload.update(extra)
    return payload


def add_person(db, passwords, world: World, username: str, role: str, areas, buildings) -> None:
    """An account of the world, scoped to areas and buildings named as the world names them."""
    user = create_user(
        db=db,
        passwords=passwords,
        data={
            "username": username,
            "password": world.password,
            "role": role,
            "active": True,
            "area_ids": [world.areas[a] for a in areas],
            "building_ids": [world.buildings[b] for b in buildings],
        },
    )
    world.users[username] = user.id


def build_world(app) -> World:
    world = World(password=PASSWORD)
    passwords = app.extensions["fieldapi.passwords"]
    session = app.extensions["fieldapi.sessionmaker"]()
    root = Actor(user_id=uuid.uuid4(), username="setup", role="admin")
    with session.begin():
        tree = [
            ("Futian", "district", None),
            ("Shahe", "street", "Futian"),
            ("Xiangmihu", "street", "Futian"),
            ("Shuiwei", "community", "Shahe"),
            ("Huanggang", "community", "Shahe"),
            ("Zhuzilin", "community", "Xiangmihu"),
            ("G1", "grid", "Shuiwei"),
            ("G2", "grid", "Shuiwei"),
            ("G3", "grid", "Huanggang"),
            ("G4", "grid", "Zhuzilin"),
        ]
        for name, kind, parent in tree:
            area = create_area(
                db=session,
                data={
                    "name": name,
                    "kind": kind,
                    "parent_id": world.areas.get(parent),
                    "code": None,
                    "boundary": None,
                },
            )
            world.areas[name] = area.id
        admin = create_user(
            db=session,
            passwords=passwords,
            data={
                "username": "admin",
                "password": PASSWORD,
                "role": "admin",
                "active": True,
                "area_ids": [],
                "building_ids": [],
            },
        )
        root = Actor(user_id=admin.id, username="admin", role="admin")
        world.users["admin"] = admin.id
        for code, grid in (("B1", "G1"), ("B2", "G2"), ("B3", "G3"), ("B4", "G4")):
            building = create_building(
                db=session,
                actor=root,
                data=building_payload(
                    f"FT-{code}",
                    world.areas[grid],
                    units=[
                        {
                            "label": "101",
                            "floor": 1,
                            "residents": [
                                {
                                    "name": "Li Wei",
                                    "id_number": "11010519491231002X",
                                    "phone": "13812345678",
                                    "kind": "permanent",
                                }
                            ],
                        }
                    ],
                ),
            )
            world.buildings[code] = building.id
        for username, (role, areas, buildings) in PERSONAS.items():
            if username == "admin":
                continue
            add_person(session, passwords, world, username, role, areas, buildings)
    session.close()
    return world
