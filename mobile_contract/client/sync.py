"""Keeping the phone's copy of its grid: GET /sync from the stored cursor, page by page.

Each page's objects and its ``next_cursor`` are stored in one transaction, so a sync cut
off halfway resumes where it stopped and never applies a page twice or skips one. No
cursor asks for everything in scope; objects that left the user's scope come back as
deleted. The last page of a pull that brought anything carries the user's whole inbox,
kept as the setting ``inbox``. A cursor the server no longer accepts starts the copy again
from nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from mobile_contract.client.api import API, Api, Refused
from mobile_contract.client.store import Store

PAGE = 500


@dataclass
class SyncReport:
    pages: int = 0
    changes: int = 0
    restarted: bool = False


def sync(api: Api, store: Store, *, limit: int = PAGE) -> SyncReport:
    report = SyncReport()
    while True:
        params: dict[str, object] = {"limit": limit}
        cursor = store.setting("sync_cursor")
        if cursor:
            params["cursor"] = cursor
        try:
            body = api.json("GET", f"{API}/sync", params=params)
        except Refused as refused:
            if refused.slug != "invalid-cursor" or report.restarted:
                raise
            _forget(store)
            report.restarted = True
            continue
        report.changes += store.apply_page(
            body["changes"], body.get("next_cursor"), body.get("inbox")
        )
        report.pages += 1
        if not body.get("has_more"):
            return report


def _forget(store: Store) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM objects")
        db.execute("DELETE FROM settings WHERE name = 'sync_cursor'")
