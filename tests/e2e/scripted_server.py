"""A loopback HTTP server that answers from a script, for the client's unit tests.

Each request takes the next step of the script: an answer (status, headers, JSON body) or
``RESET``, which closes the connection without a word, as a dropped network does. Every
request is recorded (method, path, headers, body) for the test to look at.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RESET = "reset"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Script:
    steps: list[Any] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    fallback: Any = (500, {}, {"title": "the script ran out"})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, request: Seen) -> Any:
        with self.lock:
            self.seen.append(request)
            return self.steps.pop(0) if self.steps else self.fallback


def answer(status: int, body: Any = None, **headers: str) -> tuple[int, dict[str, str], Any]:
    return status, {k.replace("_", "-"): v for k, v in headers.items()}, body


def problem(status: int, slug: str, **headers: str) -> tuple[int, dict[str, str], Any]:
    body = {"type": f"https://fieldapi.example/problems/{slug}", "title": slug, "status": status}
    named = {k.replace("_", "-"): v for k, v in headers.items()}
    return status, {"Content-Type": "application/problem+json", **named}, body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script

    def log_message(self, format, *args):  # quiet
        pass

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, dict(self.headers.items()), body)
        step = self.script.next(seen)
        if step == RESET:
            # RST instead of FIN: the client sees "connection reset", as on a bad network.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        status, headers, payload = step
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        headers = {"Content-Type": "application/json", **headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any


class ScriptedServer:
    def __init__(self) -> None:
        self.script = Script()
        handler = type("Handler", (_Handler,), {"script": self.script})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def play(self, *steps: Any) -> None:
        self.script.steps.extend(steps)

    @property
    def seen(self) -> list[Seen]:
        return self.script.seen

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
