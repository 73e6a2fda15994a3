"""A demo district to try the product with: 福田区 → 沙头街道 → 水围社区 → three grids, thirty
building files, and one account per role.

Everything is loaded through the API's schemas and created by the same service functions the
API calls, so the files are validated and each history starts with its "created" version.
The content comes from a fixed random seed: every run builds the same district. People,
phone numbers, identity and licence numbers are fictional; identity numbers carry a correct
GB 11643 check digit and licence numbers a correct GB 32100 one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fieldapi.areas.schemas import AreaCreateSchema
from fieldapi.areas.service import create_area
from fieldapi.auth.passwords import Passwords
from fieldapi.buildings.models import Building
from fieldapi.buildings.schemas import BuildingWriteSchema
from fieldapi.buildings.service import create_building
from fieldapi.checklists.defaults import ensure_defaults
from fieldapi.core.db import utcnow
from fieldapi.core.scope import Actor
from fieldapi.demo.fieldwork import seed_field_work
from fieldapi.fieldwork.policy import Policy
from fieldapi.users.models import User
from fieldapi.users.schemas import UserCreateSchema
from fieldapi.users.service import create_user
from storage import BlobStore


class Grid(NamedTuple):
    name: str
    code: str
    west: float  # the grid is a strip of the community between two meridians
    east: float
    plan: tuple[str, ...]  # the use type of each building in it, in code order


class Account(NamedTuple):
    username: str
    password: str
    role: str
    display_name: str
    phone: str
    given: str | None  # the area it covers ("district", "grid1"…), or "managed" buildings


class Profile(NamedTuple):
    zh: str  # name patterns ({n}: house number)
    en: str
    floors: tuple[int, int]
    structures: tuple[str, ...]
    years: tuple[int, int]
    interval: int  # self-check every so many days
    rooms: tuple[int, int]  # registered units per floor
    use: str | None
    room_m2: tuple[int, int]
    floating: float  # share of units let to floating population
    shops: tuple[int, int]  # shops on the ground floor


SEED = 20261123
AREA_CHAIN = (  # (name, kind, code): each one lies in the one before it
    ("福田区 Futian", "district", "FT"),
    ("沙头街道 Shatou", "street", "FT-ST"),
    ("水围社区 Shuiwei", "community", "FT-ST-SW"),
)
SOUTH, NORTH = 22.5220, 22.5265
R, H, M, V, W = "rental", "residential", "mixed", "small_venue", "warehouse"
GRIDS = (
    Grid("网格 1 Grid 1", "FT-ST-SW-G1", 114.0620, 114.0652, (R, R, R, R, R, R, M, M, V, V, H, H)),
    Grid("网格 2 Grid 2", "FT-ST-SW-G2", 114.0652, 114.0684, (R, R, R, R, H, H, H, M, V, V)),
    Grid("网格 3 Grid 3", "FT-ST-SW-G3", 114.0684, 114.0716, (H, H, H, R, R, M, V, W)),
)
MANAGED_BUILDINGS = 3  # manager1 keeps the first three files of grid 1
ACCOUNTS = (
    Account("admin", "demo-admin-2026", "admin", "系统管理员 Admin", "13800138000", None),
    Account("manager1", "demo-manager-2026", "building_manager", "陈国平 Chen Guoping",
            "13926581234", "managed"),
    Account("gridworker1", "demo-grid1-2026", "grid_staff", "林晓燕 Lin Xiaoyan", "15012763390",
            "grid1"),
    Account("gridworker2", "demo-grid2-2026", "grid_staff", "黄志强 Huang Zhiqiang",
            "18923457781", "grid2"),
    Account("officer1", "demo-officer-2026", "officer", "刘建华 Liu Jianhua", "13798264410",
            "community"),
    Account("fireoffice1", "demo-fireoffice-2026", "fire_office", "周丽娟 Zhou Lijuan",
            "15889305512", "street"),
    Account("firepolice1", "demo-firepolice-2026", "fire_police", "吴海涛 Wu Haitao",
            "18676520093", "district"),
)  # fmt: skip
RC, BRICK = "reinforced_concrete", "brick_concrete"
PROFILES = {
    R: Profile("水围村 {n} 栋", "Shuiwei Village Bldg {n}", (6, 9), (RC, BRICK), (1988, 2006), 7,
               (3, 4), "rental room", (15, 40), 0.85, (0, 1)),
    H: Profile("水围花园 {n} 座", "Shuiwei Garden Block {n}", (12, 18), (RC,), (1996, 2014), 30,
               (2, 2), "home", (55, 130), 0.3, (0, 0)),
    M: Profile("福民路 {n} 号商住楼", "No. {n} Fumin Rd, shops and flats", (5, 8), (RC,),
               (1995, 2010), 30, (2, 3), "home", (45, 95), 0.6, (2, 3)),
    V: Profile("水围二坊 {n} 号", "No. {n} Shuiwei Lane 2", (2, 4), (BRICK,), (1985, 2000), 7,
               (1, 1), "staff dorm", (20, 35), 0.9, (1, 2)),
    W: Profile("水围仓库 {n} 号", "Shuiwei Warehouse {n}", (1, 2), ("steel",), (2003, 2012), 30,
               (0, 0), None, (0, 0), 0.0, (1, 1)),
}  # fmt: skip
SHOPS = (  # (business type, name pattern with the operator's surname)
    ("convenience_store", "{s}记便利店"),
    ("ebike_repair", "{s}师傅电动车维修"),
    ("restaurant", "{s}记潮汕粉面"),
    ("hair_salon", "{s}氏发艺"),
    ("hardware", "{s}记五金"),
)
WAREHOUSE_TENANT = ("logistics", "{s}氏物流仓储")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁宋郑谢韩唐冯许邓曾彭"
GIVEN_MALE = ("伟", "强", "磊", "洋", "勇", "军", "杰", "涛", "明", "超", "建国", "志明", "晓东",
              "俊杰")  # fmt: skip
GIVEN_FEMALE = ("芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀英", "桂兰", "海燕", "晓红",
                "丽萍")  # fmt: skip
LOCAL_REGIONS = ("440304", "440303", "440305", "445281", "441581")  # Shenzhen, east Guangdong
FLOATING_REGIONS = ("430521", "360124", "450881", "411522", "510922", "421126", "350583")
MOBILE_PREFIXES = ("130", "132", "135", "136", "137", "138", "139", "150", "152", "158", "159",
                   "180", "186", "187", "188", "189")  # fmt: skip

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def id_number(region: str, born: date, sequence: int) -> str:
    """A resident identity card number (GB 11643) with its check digit."""
    body = f"{region}{born:%Y%m%d}{sequence:03d}"
    return body + ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def licence_number(body: str) -> str:
    """A unified social credit code (GB 32100): 17 characters and the check character."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(body, USCC_WEIGHTS, strict=True))
    return body + USCC_CHARS[(31 - total % 31) % 31]


class DemoDistrict:
    """Makes the people and the files of the district, all from one random generator."""

    def __init__(self, now: datetime | None = None) -> None:
        self.rng = random.Random(SEED)  # noqa: S311 (repeatable demo content, not secrets)
        self.now = now or utcnow().replace(microsecond=0)
        self.today = self.now.date()
        self.issued: set[str] = set()

    def days_from_today(self, low: int, high: int) -> str:
        return (self.today + timedelta(days=self.rng.randint(low, high))).isoformat()

    def phone(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def name(self, male: bool | None = None) -> str:
        male = self.rng.random() < 0.5 if male is None else male
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN_MALE if male else GIVEN_FEMALE)

    def contact(self) -> dict[str, str]:
        return {"name": self.name(), "phone": self.phone()}

    def resident(self, *, floating: bool, tenant: bool) -> dict[str, Any]:
        male = self.rng.random() < 0.5
        number = ""
        while not number or number in self.issued:  # one number, one person
            born = self.today - timedelta(days=self.rng.randint(18 * 365, 78 * 365))
            region = self.rng.choice(FLOATING_REGIONS if floating else LOCAL_REGIONS)
            number = id_number(region, born, self.rng.randrange(0, 1000, 2) + male)  # odd: male
        self.issued.add(number)
        return {
            "name": self.name(male),
            "id_number": number,
            "phone": self.phone(),
            "kind": "floating" if floating else "permanent",
            "is_tenant": tenant,
            "registered_on": self.days_from_today(-2500, -20),
        }

    def shop(self, business_type: str, pattern: str) -> dict[str, Any]:
        operator = self.name()
        serial = "".join(self.rng.choice(USCC_CHARS) for _ in range(7))
        return {
            "name": pattern.format(s=operator[0]),
            "licence_number": licence_number(f"92440304MA{serial}"),  # a Futian sole trader
            "business_type": business_type,
            "operator_name": operator,
            "contact_phone": self.phone(),
            "floor": 1,
        }

    def units(self, profile: Profile, floors: int, first_floor: int) -> list[dict[str, Any]]:
        units = []
        for floor in range(first_floor, floors + 1):
            for room in range(1, self.rng.randint(*profile.rooms) + 1):
                floating = self.rng.random() < profile.floating
                tenant = floating or self.rng.random() < 0.2
                people = self.rng.randint(1, 3 if tenant else 4)
                units.append(
                    {
                        "label": f"{floor}{room:02d}",
                        "floor": floor,
                        "area_m2": float(self.rng.randint(*profile.room_m2)),
                        "use": profile.use,
                        "residents": [self.resident(floating=floating, tenant=tenant)
                                      for _ in range(people)],
                    }
                )  # fmt: skip
        return units

    def equipment(self, use_type: str, floors: int, rooms: int, expired: bool) -> list[dict]:
        def item(kind: str, count: int, location: str, **dates) -> dict[str, Any]:
            return {"kind": kind, "count": count, "location": location, **dates}

        items = [
            item("extinguisher", 2 * floors, "每层楼梯间 stairwell landing, every floor",
                 last_service_on=self.days_from_today(-330, -30),
                 expires_on=self.days_from_today(-180, -5) if expired
                 else self.days_from_today(60, 900)),
            item("emergency_light", floors + 1, "疏散通道 escape routes",
                 last_service_on=self.days_from_today(-400, -30)),
        ]  # fmt: skip
        if floors >= 7 or use_type == W:
            items.append(item("hydrant", max(1, floors // 2), "消火栓箱 hydrant cabinets, stairs",
                              last_service_on=self.days_from_today(-500, -60)))  # fmt: skip
        if rooms:
            items.append(item("smoke_alarm", rooms, "每户 one in every unit and shop"))
        if use_type == W:
            items.append(item("sprinkler", 48, "全覆盖 ceiling, whole floor",
                              last_service_on=self.days_from_today(-200, -30)))  # fmt: skip
        return items

    def building(
        self, number: int, use_type: str, house: int, grid: Grid, manager: dict | None
    ) -> tuple[dict[str, Any], str]:
        """One file as the API would receive it, and the risk level it deserves."""
        rng, profile = self.rng, PROFILES[use_type]
        floors = rng.randint(*profile.floors)
        kinds = [SHOPS[(number + i) % len(SHOPS)] for i in range(rng.randint(*profile.shops))]
        kinds = [WAREHOUSE_TENANT] if use_type == W else kinds
        shops = [self.shop(kind, pattern) for kind, pattern in kinds]
        units = self.units(profile, floors, 2 if shops else 1) if profile.use else []
        overdue, expired = rng.random() < 0.3, rng.random() < 0.3
        zh, en = profile.zh.format(n=house), profile.en.format(n=house)
        due_in = -rng.randint(1, 25) if overdue else rng.randint(1, profile.interval)
        owner = self.contact()
        payload = {
            "code": f"FT-SW-{number:04d}",
            "name": zh,
            "address": f"深圳市福田区沙头街道{zh.replace(' ', '')} · {en}, Shatou, Futian",
            "location": {
                "lat": round(rng.uniform(SOUTH + 0.0004, NORTH - 0.0004), 6),
                "lon": round(rng.uniform(grid.west + 0.0003, grid.east - 0.0003), 6),
            },
            "use_type": use_type,
            "floors_above": floors,
            "floors_below": 1 if floors >= 12 else 0,
            "height_m": round(floors * rng.uniform(2.9, 3.3), 1),
            "structure": rng.choice(profile.structures),
            "year_built": rng.randint(*profile.years),
            "floor_area_m2": float(floors * rng.randint(180, 600)),
            "responsibility": {
                "owner": owner,
                "manager": manager or (owner if rng.random() < 0.4 else self.contact()),
                "safety_officer": self.contact(),
            },
            "statement": {
                "signed_on": self.days_from_today(-700, -10) if rng.random() < 0.85 else None
            },
            "units": units,
            "shops": shops,
            "equipment": self.equipment(use_type, floors, len(units) + len(shops), expired),
            "self_check_interval_days": profile.interval,
            "next_self_check_due_at": (self.now + timedelta(days=due_in)).isoformat(),
        }
        if "ebike_repair" in {kind for kind, _pattern in kinds}:
            payload["notes"] = "楼下电动车维修，室内禁止充电。E-bike repair: no charging indoors."
        if overdue and expired:
            return payload, "high"
        return payload, "medium" if (overdue or expired) and rng.random() < 0.6 else "low"

    def files(self, keeper: dict[str, str]) -> Iterator[tuple[int, bool, dict[str, Any], str]]:
        """Every file of the district: (grid number, kept by the keeper, payload, risk level)."""
        houses = {use: iter(sorted(self.rng.sample(range(1, 99), 12))) for use in PROFILES}
        number = 0
        for index, grid in enumerate(GRIDS, start=1):
            for position, use_type in enumerate(grid.plan):
                number += 1
                kept = index == 1 and position < MANAGED_BUILDINGS
                house = next(houses[use_type])
                payload, risk = self.building(
                    number, use_type, house, grid, keeper if kept else None
                )
                yield index, kept, payload, risk


def _account(session: Session, passwords: Passwords, account: Account, **given) -> User:
    fields = ("username", "password", "role", "display_name", "phone")
    data = UserCreateSchema().load({name: getattr(account, name) for name in fields} | given)
    return create_user(db=session, passwords=passwords, data=data)


def seed(
    session: Session,
    *,
    passwords: Passwords,
    blobs: BlobStore | None = None,
    policy: Policy | None = None,
) -> list[tuple[str, str, str]]:
    """Build the demo district in an empty database; with any account present, do nothing.

    Given a blob store and the field work policy, the district also gets its field work so
    far: photos, inspections, hazards and rectifications at every review stage."""
    if session.scalar(select(User.id).limit(1)) is not None:
        return []
    demo = DemoDistrict()
    areas: dict[str, str] = {}
    parent = None
    for name, kind, code in AREA_CHAIN:
        data = {"name": name, "kind": kind, "code": code, "parent_id": parent}
        parent = areas[kind] = str(create_area(db=session, data=AreaCreateSchema().load(data)).id)
    for index, grid in enumerate(GRIDS, start=1):
        w, e = grid.west, grid.east
        boundary = {"type": "Polygon", "coordinates": [[[w, SOUTH], [e, SOUTH], [e, NORTH],
                                                        [w, NORTH], [w, SOUTH]]]}  # fmt: skip
        data = {"name": grid.name, "kind": "grid", "code": grid.code,
                "parent_id": areas["community"], "boundary": boundary}  # fmt: skip
        areas[f"grid{index}"] = str(create_area(db=session, data=AreaCreateSchema().load(data)).id)

    admin = _account(session, passwords, ACCOUNTS[0])
    actor = Actor(user_id=admin.id, username=admin.username, role=admin.role)
    keeper = next(account for account in ACCOUNTS if account.given == "managed")
    card = {"name": keeper.display_name.split()[0], "phone": keeper.phone}
    managed: list[str] = []
    for grid_number, kept, payload, risk in demo.files(card):
        payload["grid_id"] = areas[f"grid{grid_number}"]
        data = BuildingWriteSchema().load(payload)
        building = create_building(db=session, actor=actor, data=data)
        if kept:
            managed.append(str(building.id))
        if risk != "low":  # derived from hazards; a new district has no history to derive it
            session.execute(
                update(Building).where(Building.id == building.id).values(risk_level=risk)
            )

    for account in ACCOUNTS[1:]:
        if account.given == "managed":
            _account(session, passwords, account, building_ids=managed)
        else:
            _account(session, passwords, account, area_ids=[areas[account.given]])
    ensure_defaults(session)
    session.flush()
    if blobs is not None and policy is not None:
        seed_field_work(session, blobs=blobs, policy=policy)
    return [(account.username, account.password, account.role) for account in ACCOUNTS]
