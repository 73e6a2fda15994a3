"""One wrk run: a fixed GET with a bearer token, its answers counted by status in Lua.

wrk's own "Non-2xx or 3xx responses" line takes a 3xx for a success, and its
``summary.errors.status`` counts only statuses above 399. Here every thread counts its answers
in ``response()``, and ``done()`` adds the threads' counters up (``setup`` keeps a table of the
threads) and prints them on one line with the latency percentiles, for ``run`` to read.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

WRK = "/usr/bin/wrk"
MARK = "hot_reads:"
TIMEOUT = 10  # seconds: a slower answer counts as a socket error, and not in the latency

SCRIPT = """\
-- Written by bench/wrk.py for one run; removed with the run's files.
wrk.headers["Authorization"] = "Bearer %(token)s"

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   answered = 0
   non2xx = 0
   statuses = {}
end

function response(status, headers, body)
   answered = answered + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      statuses[status] = (statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local answered, non2xx, seen = 0, 0, {}
   for _, thread in ipairs(threads) do
      answered = answered + thread:get("answered")
      non2xx = non2xx + thread:get("non2xx")
      for status, count in pairs(thread:get("statuses")) do
         seen[status] = (seen[status] or 0) + count
      end
   end
   local other = {}
   for status, count in pairs(seen) do
      table.insert(other, status .. "=" .. count)
   end
   local e = summary.errors
   io.write(string.format(
      "%(mark)s requests %%d answered %%d non2xx %%d duration_us %%d p50_us %%d p99_us %%d "
         .. "socket_errors %%d statuses %%s\\n",
      summary.requests, answered, non2xx, summary.duration,
      latency:percentile(50), latency:percentile(99),
      e.connect + e.read + e.write + e.timeout, table.concat(other, ",")))
end
"""

RESULT = re.compile(
    re.escape(MARK) + r" requests (\d+) answered (\d+) non2xx (\d+) duration_us (\d+) "
    r"p50_us (\d+) p99_us (\d+) socket_errors (\d+) statuses (\S*)"
)


class WrkError(Exception):
    """wrk did not run or did not report."""


@dataclass(frozen=True)
class Result:
    requests: int  # completed, as wrk counts them
    answered: int  # seen by response(): should equal requests
    non2xx: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: int  # connect, read, write and timeout errors
    statuses: dict[int, int]  # the non-2xx statuses seen

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def find() -> str | None:
    """The wrk binary: Debian's, else one on PATH."""
    return WRK if Path(WRK).is_file() else shutil.which("wrk")


def version(binary: str) -> str:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    return (done.stdout + done.stderr).split("Copyright")[0].strip()


def run(
    binary: str,
    url: str,
    *,
    token: str,
    seconds: int,
    threads: int,
    connections: int,
    script: Path,
    log: Path,
) -> Result:
    """``wrk -tT -cC -dSs --latency`` against ``url``; wrk's own report is appended to ``log``."""
    script.write_text(SCRIPT % {"token": token, "mark": MARK})
    command = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["--timeout", f"{TIMEOUT}s", "-s", str(script), url]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        raise WrkError(f"wrk against {url} did not finish") from None
    finally:
        script.unlink(missing_ok=True)  # it holds a token
    with log.open("a") as out:
        out.write(f"$ wrk ... {url}\n{done.stdout}{done.stderr}\n")
    found = RESULT.search(done.stdout)
    if done.returncode or found is None:
        raise WrkError(f"wrk against {url} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    requests, answered, non2xx, duration, p50, p99, errors = map(int, found.groups()[:7])
    statuses = {}
    for part in filter(None, found.group(8).split(",")):
        status, _, count = part.partition("=")
        statuses[int(status)] = int(count)
    return Result(
        requests=requests,
        answered=answered,
        non2xx=non2xx,
        seconds=duration / 1e6,
        p50_ms=p50 / 1000,
        p99_ms=p99 / 1000,
        socket_errors=errors,
        statuses=statuses,
    )
