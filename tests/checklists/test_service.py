"""Checklist template rules, called as the views call them: defaults, versions, audit."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from fieldapi.audit.models import AuditEvent
from fieldapi.buildings.models import USE_TYPES
from fieldapi.checklists import service
from fieldapi.checklists.defaults import DEFAULT_ITEMS, ensure_defaults
from fieldapi.checklists.models import ChecklistItem, ChecklistTemplate
from fieldapi.checklists.schemas import TemplateCreateSchema
from fieldapi.core.problems import NotFound
from fieldapi.core.scope import Actor

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def admin(world) -> Actor:
    return Actor(user_id=world.users["admin"], username="admin", role="admin")


def edited(use_type: str, *codes: str) -> dict:
    items = [
        {
            "code": code,
            "label": {"zh": f"检查项 {code}", "en": f"Check {code}"},
            "category": "extinguishers",
            "severity": "minor",
            "photo_required": False,
        }
        for code in codes
    ]
    return TemplateCreateSchema().load({"use_type": use_type, "name": "Edited", "items": items})


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_the_default_self_check_passes_the_rules_an_admin_is_held_to():
    loaded = TemplateCreateSchema().load(
        {"use_type": "residential", "name": "x", "items": list(DEFAULT_ITEMS)}
    )
    assert len(loaded["items"]) == 11
    for item in DEFAULT_ITEMS:
        assert CJK.search(item["label"]["zh"]), item["code"]
        assert not CJK.search(item["label"]["en"]), item["code"]
    by_code = {item["code"]: item for item in DEFAULT_ITEMS}
    # The hazards that kill people in these buildings are critical and need a photo.
    for code in ("EVAC-01", "EBIKE-01", "GAS-01", "OCC-01"):
        assert (by_code[code]["severity"], by_code[code]["photo_required"]) == (
            "critical",
            True,
        )
    assert "三合一" in by_code["OCC-01"]["label"]["zh"]
    assert "防盗网" in by_code["ESC-01"]["label"]["zh"]


def test_ensure_defaults_makes_version_one_for_every_use_type_once(db):
    made = ensure_defaults(db)
    db.commit()
    assert sorted(t.use_type for t in made) == sorted(USE_TYPES)
    assert {t.version for t in made} == {1}
    assert count(db, ChecklistTemplate) == len(USE_TYPES)
    assert count(db, ChecklistItem) == len(USE_TYPES) * len(DEFAULT_ITEMS)

    assert ensure_defaults(db) == []
    db.commit()
    assert count(db, ChecklistTemplate) == len(USE_TYPES)
    assert count(db, ChecklistItem) == len(USE_TYPES) * len(DEFAULT_ITEMS)


def test_ensure_defaults_fills_only_the_use_types_still_without_a_template(db, admin):
    service.create_template(db=db, actor=admin, data=edited("warehouse", "WH-01"))
    made = ensure_defaults(db)
    db.commit()
    assert "warehouse" not in {t.use_type for t in made}
    assert len(made) == len(USE_TYPES) - 1
    kept = service.current_template(db=db, use_type="warehouse")
    assert (kept.version, [i.code for i in kept.items]) == (1, ["WH-01"])


def test_items_keep_their_order_and_both_labels(db, admin):
    template = service.create_template(
        db=db, actor=admin, data=edited("rental", "ZZ-01", "AA-02", "MM-03")
    )
    db.commit()
    db.expire_all()
    again, current = service.get_template(db=db, template_id=template.id)
    assert current is True
    document = service.present(again, current)
    assert [i["code"] for i in document["items"]] == ["ZZ-01", "AA-02", "MM-03"]
    assert document["items"][1]["label"] == {"zh": "检查项 AA-02", "en": "Check AA-02"}
    assert document["created_by"] == admin.user_id


def test_each_use_type_counts_its_own_versions(db, admin):
    first = service.create_template(db=db, actor=admin, data=edited("mixed", "AA-01"))
    second = service.create_template(db=db, actor=admin, data=edited("mixed", "AA-01", "BB-01"))
    other = service.create_template(db=db, actor=admin, data=edited("public", "AA-01"))
    db.commit()
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert service.current_template(db=db, use_type="mixed").id == second.id
    assert service.get_template(db=db, template_id=first.id)[1] is False
    rows, _ = service.list_templates(
        db=db, use_type=None, all_versions=False, limit=50, cursor=None
    )
    assert {(t.use_type, t.version, current) for t, current in rows} == {
        ("mixed", 2, True),
        ("public", 1, True),
    }


def test_a_new_version_is_audited_with_its_author(db, admin):
    template = service.create_template(db=db, actor=admin, data=edited("industrial", "IN-01"))
    db.commit()
    event = db.scalar(select(AuditEvent).where(AuditEvent.object_id == str(template.id)))
    assert (event.action, event.object_type, event.actor_id) == (
        "template.create",
        "checklist_template",
        admin.user_id,
    )


def test_an_unknown_template_is_not_found(db):
    with pytest.raises(NotFound):
        service.get_template(db=db, template_id=uuid.uuid4())
