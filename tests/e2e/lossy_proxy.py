"""A bad network on loopback: an HTTP proxy that loses and delays requests and answers.

One request per connection (``Connection: close`` both ways), each handled on its own
thread. For every request the proxy draws, from one seeded random generator:

- the request's fate: passed on, held back for a while first, or dropped (the connection
  is reset and the server never hears of it);
- the answer's fate: passed on, held back for a while first, lost after the server has
  done the work (the whole answer is read from the server, then the phone's connection is
  reset), or cut early (the phone's connection is reset as soon as the request has been
  passed on, while the server is still working on it: a phone retrying at once then meets
  its own first attempt still running).

Every fate is counted in ``stats``.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass

HEAD_LIMIT = 64 * 1024
IO_TIMEOUT = 60.0


@dataclass(frozen=True)
class Losses:
    drop_request: float = 0.10
    delay_request: float = 0.10
    lose_answer: float = 0.07  # after the server did the work
    cut_early: float = 0.05  # while the server is still working
    delay_answer: float = 0.08
    delay: tuple[float, float] = (0.05, 1.0)  # seconds held back


class LossyProxy:
    def __init__(self, upstream: tuple[str, int], *, seed: int, losses: Losses | None = None):
        self.upstream = upstream
        self.losses = losses or Losses()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="lossy-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LossyProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=5)

    # ------------------------------------------------------------------ fates

    def _draw(self) -> tuple[str, str, float]:
        with self.lock:
            roll_request, roll_answer = self.rng.random(), self.rng.random()
            pause = self.rng.uniform(*self.losses.delay)
        loss = self.losses
        if roll_request < loss.drop_request:
            request = "drop"
        elif roll_request < loss.drop_request + loss.delay_request:
            request = "delay"
        else:
            request = "pass"
        edges = [
            ("lose", loss.lose_answer),
            ("cut", loss.cut_early),
            ("delay", loss.delay_answer),
        ]
        answer, edge = "pass", 0.0
        for name, share in edges:
            edge += share
            if roll_answer < edge:
                answer = name
                break
        return request, answer, pause

    def _count(self, *names: str) -> None:
        with self.lock:
            self.stats.update(names)

    # ------------------------------------------------------------------ plumbing

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, phone: socket.socket) -> None:
        phone.settimeout(IO_TIMEOUT)
        try:
            request = _read_request(phone)
            if request is None:
                phone.close()
                return
            self._count("requests")
            fate_request, fate_answer, pause = self._draw()
            if fate_request == "drop":
                self._count("requests dropped")
                _reset(phone)
                return
            if fate_request == "delay":
                self._count("requests delayed")
                time.sleep(pause)
            with socket.create_connection(self.upstream, timeout=IO_TIMEOUT) as server:
                server.sendall(request)
                if fate_answer == "cut":
                    # The phone gives up on this attempt while the server is still at it.
                    self._count("answers cut early")
                    _reset(phone)
                    _drain(server)
                    return
                answer = _drain(server)
            if fate_answer == "lose":
                self._count("answers lost after the work")
                _reset(phone)
                return
            if fate_answer == "delay":
                self._count("answers delayed")
                time.sleep(pause)
            phone.sendall(answer)
            phone.close()
        except OSError:
            self._count("proxy errors")
            with contextlib.suppress(OSError):
                _reset(phone)


def _read_request(conn: socket.socket) -> bytes | None:
    """One whole request, with ``Connection: close`` in place of the phone's own header."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > HEAD_LIMIT:
            raise OSError("request head too large")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    kept = [lines[0]]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value.strip())
        if lowered == b"transfer-encoding":
            raise OSError("chunked requests are not proxied")
        if lowered in (b"connection", b"keep-alive"):
            continue
        kept.append(line)
    kept.append(b"Connection: close")
    while len(body) < length:
        chunk = conn.recv(min(65536, length - len(body)))
        if not chunk:
            return None
        body += chunk
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


def _drain(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes (it was asked to: Connection: close)."""
    parts = []
    while chunk := conn.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


def _reset(conn: socket.socket) -> None:
    """Close with RST, not FIN: the phone sees "connection reset by peer"."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
