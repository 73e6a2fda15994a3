"""gunicorn's settings for Field API, read from the working directory by default.

``gunicorn --workers 4 --threads 4 --bind 0.0.0.0:8000 wsgi:app`` run from the repository
root reads this file; the command line still chooses workers, threads and address.

- Metrics: every worker counts into its own files under ``PROMETHEUS_MULTIPROC_DIR`` and a
  scrape of ``/metrics`` adds up all of them. Unless the operator set that directory, a
  fresh one is made for each start of the master and removed when it stops; one the
  operator set is emptied of metric files at start (counts from an earlier run would mix
  with these). A worker that exits keeps its counts; ``child_exit`` drops its live gauges.
- Errors: gunicorn's own refusals (a request line over 4 KB, headers too large, a request it
  cannot parse) are problem+json, like every answer of the app.

Nothing of the app is imported here, in the master: the workers import it when they start,
so a ``kill -HUP`` of the master brings new code as well as new workers.
"""

import glob
import os
import shutil
import tempfile

import gunicorn.util

METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
OWN_DIR = "FIELDAPI_OWN_METRICS_DIR"  # set when the directory is ours to remove

# Read before any worker is forked, so every worker imports prometheus-client with it set.
# On a reload (HUP) this file runs again in the same master and keeps the directory it made.
if not os.environ.get(METRICS_DIR):
    os.environ[METRICS_DIR] = os.environ[OWN_DIR] = tempfile.mkdtemp(prefix="fieldapi-metrics-")


def on_starting(server):
    path = os.environ[METRICS_DIR]
    if os.environ.get(OWN_DIR) != path:
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    server.log.info("Prometheus multiprocess directory: %s", path)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    own = os.environ.get(OWN_DIR)
    if own and own == os.environ.get(METRICS_DIR):
        shutil.rmtree(own, ignore_errors=True)


def _write_problem(sock, status_int, reason, mesg):
    # Called in a worker, which has imported the app already.
    from fieldapi.ops.serving import write_problem

    write_problem(sock, status_int, reason, mesg)


# The workers call gunicorn.util.write_error for every request gunicorn refuses itself.
gunicorn.util.write_error = _write_problem
