"""Command line of the reference phone client.

    python -m mobile_contract.client login  --server URL --user gw1
    python -m mobile_contract.client patrol --server URL --user mgr1 --building ID --photos DIR
    python -m mobile_contract.client outbox          # what waits to be sent
    python -m mobile_contract.client flush           # send it
    python -m mobile_contract.client sync            # refresh the local copy of your area
    python -m mobile_contract.client logout

The password comes from FIELDAPI_PASSWORD, else it is asked for. State (outbox, synced
objects, session) lives in --data-dir (FIELDAPI_PHONE_DIR, default ~/.fieldapi-phone).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from mobile_contract.client.api import API, ClientError, Refused
from mobile_contract.client.outbox import FlushReport
from mobile_contract.client.phone import Phone

KIND_BY_ROLE = {"building_manager": "self_check", "officer": "patrol", "grid_staff": "patrol"}
PHOTO_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".heic": "image/heic",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mobile_contract.client",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("FIELDAPI_PHONE_DIR", "~/.fieldapi-phone"),
        help="where the phone keeps its database and photos",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--server", help="the API's URL (remembered after the first time)")
        sub.add_argument("--user", help="sign in as this user first")
        return sub

    command("login", "sign in and keep the session")
    patrol = command("patrol", "inspect one building, with photos, and submit it")
    patrol.add_argument("--building", required=True, help="the building's id")
    patrol.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="CODE",
        help="a checklist item that fails (repeat for more)",
    )
    patrol.add_argument("--photos", type=Path, help="a folder of photos, one per item needing one")
    patrol.add_argument("--note", help="a note on the inspection")
    patrol.add_argument("--offline", action="store_true", help="only queue it; flush later")
    command("flush", "send what waits in the outbox")
    command("sync", "bring the local copy of your area up to date")
    outbox = command("outbox", "show what waits to be sent (and what was refused)")
    outbox.add_argument("--all", action="store_true", help="acknowledged writes too")
    command("logout", "end the session on the server")
    return parser


def _phone(args: argparse.Namespace) -> Phone:
    phone = Phone(args.data_dir, args.server)
    if args.user:
        password = os.environ.get("FIELDAPI_PASSWORD") or getpass.getpass(
            f"Password for {args.user}: "
        )
        user = phone.sign_in(args.user, password)
        print(f"signed in as {user['username']} ({user['role']})")
    return phone


def _print_flush(report: FlushReport) -> None:
    print(f"sent: {len(report.acknowledged)}, refused: {len(report.rejected)}")
    for write in report.rejected:
        problem = write.answer or {}
        print(
            f"  refused {write.method} {write.path}: {write.status} "
            f"{problem.get('title', '')} {problem.get('detail', '')}"
        )
    if report.stopped:
        print(f"stopped, the rest waits for the next flush: {report.stopped}")


def _patrol(phone: Phone, args: argparse.Namespace) -> int:
    if phone.user is None:
        raise ClientError("Sign in first (--user).")
    kind = KIND_BY_ROLE.get(phone.user["role"], "verification")
    building, _etag = phone.read(f"{API}/buildings/{args.building}")
    templates, _ = phone.read(f"{API}/templates", use_type=building["use_type"])
    if not templates["items"]:
        raise ClientError(f"No checklist for {building['use_type']} buildings.")
    template = templates["items"][0]
    files = sorted(
        p for p in (args.photos.iterdir() if args.photos else ()) if p.suffix.lower() in PHOTO_TYPES
    )
    needed = [item["code"] for item in template["items"] if item["photo_required"]]
    if len(files) < len(needed):
        raise ClientError(
            f"{len(needed)} items need a photo ({', '.join(needed)}); --photos has {len(files)}."
        )
    items: list[dict[str, Any]] = []
    for item in template["items"]:
        entry: dict[str, Any] = {
            "code": item["code"],
            "result": "fail" if item["code"] in args.fail else "pass",
        }
        if item["photo_required"]:
            photo = files.pop(0)
            entry["photo_ids"] = [
                phone.take_photo(photo.read_bytes(), PHOTO_TYPES[photo.suffix.lower()])
            ]
        items.append(entry)
    inspection_id = phone.record_inspection(
        building_id=building["id"],
        kind=kind,
        items=items,
        location=building.get("location"),
        template_id=template["id"],
        note=args.note,
    )
    phone.submit_inspection(inspection_id)
    print(f"{kind} {inspection_id} of {building['code']} queued")
    if args.offline:
        return 0
    report = phone.flush()
    _print_flush(report)
    for write in report.acknowledged:
        if write.path.endswith("/submit"):
            answer = write.answer or {}
            print(f"in review: stage {answer.get('stage')}, hazards {answer.get('hazard_ids')}")
    return 0 if report.complete and not report.rejected else 1


def _outbox(phone: Phone, args: argparse.Namespace) -> int:
    shown = phone.outbox() if args.all else [*phone.outbox("pending"), *phone.outbox("rejected")]
    for write in sorted(shown, key=lambda w: w.seq):
        what = f"{write.object_type} {write.object_id}" if write.object_id else ""
        extra = ""
        if write.state == "rejected":
            extra = f" -> {write.status} {json.dumps((write.answer or {}).get('detail'))}"
        print(
            f"{write.seq:5} {write.state:9} {write.method} {write.path}  {what}"
            f"  tries={write.tries}{extra}"
        )
    pending = len(phone.outbox("pending"))
    print(f"{pending} waiting to be sent")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        phone = _phone(args)
        try:
            if args.command == "login":
                return 0
            if args.command == "patrol":
                return _patrol(phone, args)
            if args.command == "flush":
                report = phone.flush()
                _print_flush(report)
                return 0 if report.complete else 1
            if args.command == "sync":
                done = phone.sync()
                print(f"{done.changes} changes in {done.pages} pages")
                return 0
            if args.command == "outbox":
                return _outbox(phone, args)
            if args.command == "logout":
                phone.sign_out()
                print("signed out")
                return 0
        finally:
            phone.close()
    except Refused as refused:
        print(f"refused: {refused} {refused.problem.get('detail', '')}", file=sys.stderr)
        return 1
    except ClientError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 2
