"""The default fire-safety self-check (消防安全自查), one template per building use type.

Each item reads as the condition that passes; the severity is the hazard's if it fails.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fieldapi.buildings.models import USE_TYPES
from fieldapi.checklists import service
from fieldapi.checklists.models import ChecklistTemplate

DEFAULT_NAME = "消防安全自查表 Fire safety self-check"


def _item(code, category, severity, photo_required, zh, en):
    return {
        "code": code,
        "label": {"zh": zh, "en": en},
        "category": category,
        "severity": severity,
        "photo_required": photo_required,
    }


DEFAULT_ITEMS = (
    _item(
        "EXT-01", "extinguishers", "major", True,
        "灭火器配置齐全、压力正常且在有效期内",
        "Extinguishers in place, charged and within their service date",
    ),
    _item(
        "EVAC-01", "evacuation", "critical", True,
        "疏散通道、安全出口畅通，无堵塞、锁闭或占用",
        "Escape routes and exits clear, not blocked, locked or used for storage",
    ),
    _item(
        "DOOR-01", "fire_doors", "major", True,
        "常闭式防火门保持关闭，闭门器和顺序器完好有效",
        "Fire doors kept closed; door closers and hinges working",
    ),
    _item(
        "EBIKE-01", "electric_bikes", "critical", True,
        "楼道、楼梯间、室内无电动自行车停放或充电",
        "No electric bikes parked or charged in corridors, stairwells or rooms",
    ),
    _item(
        "ELEC-01", "electrical", "major", True,
        "无私拉乱接电线、无超负荷用电，插座和线路无破损",
        "No illegal or overloaded wiring; sockets and cables undamaged",
    ),
    _item(
        "ALARM-01", "alarms", "major", False,
        "独立式感烟火灾探测报警器（烟感）安装到位且工作正常",
        "Smoke alarms fitted and working",
    ),
    _item(
        "LIGHT-01", "emergency_lighting", "minor", False,
        "应急照明灯和安全出口、疏散指示标志完好并正常亮起",
        "Emergency lights and exit signs intact and lit",
    ),
    _item(
        "HYD-01", "water_supply", "major", True,
        "室内消火栓、消防软管卷盘无遮挡，水带水枪齐全",
        "Hydrants and hose reels accessible, with hoses and nozzles in place",
    ),
    _item(
        "GAS-01", "gas", "critical", True,
        "燃气瓶、燃气管道及阀门安全，无泄漏，软管未老化",
        "Gas cylinders, pipes and valves safe: no leaks, hoses not perished",
    ),
    _item(
        "OCC-01", "occupancy", "critical", True,
        "商铺、仓库等场所内无人员住宿（无“三合一”场所）",
        "Nobody living in shops or warehouses (no \"three-in-one\" premises)",
    ),
    _item(
        "ESC-01", "escape", "major", True,
        "屋顶及窗户逃生通道未被防盗网、铁栅栏封堵，或留有可开启的逃生口",
        "Rooftop and window escape not blocked by security bars, or an opening escape hatch left",
    ),
)  # fmt: skip


def ensure_defaults(db: Session) -> list[ChecklistTemplate]:
    """Save the default self-check as version 1 for every use type that has no template yet.

    Safe to call again: a use type with any template, default or edited, is left alone.
    """
    existing = set(db.scalars(select(ChecklistTemplate.use_type).distinct()))
    return [
        service.create_template(
            db=db,
            actor=None,
            data={"use_type": use_type, "name": DEFAULT_NAME, "items": list(DEFAULT_ITEMS)},
        )
        for use_type in USE_TYPES
        if use_type not in existing
    ]
