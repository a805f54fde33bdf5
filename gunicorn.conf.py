"""Production web server settings (``gunicorn -c gunicorn.conf.py wsgi:app``).

gevent workers hold many Server-Sent-Event streams cheaply (gthread pins a thread per stream and
caps at 1,000 connections per worker). The scheduler never runs here: it is its own process
(``flask --app wsgi scheduler run``). No ``preload_app``: each worker builds its own engine after
the fork.
"""
import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:5000")
# One gevent worker per core: the work is CPU-bound between database round trips, and twice as
# many workers as cores took more CPU per bid and doubled the peak's p99 (bench/bids.py, 2 cores:
# 4 workers 80 ms, 2 workers 36 ms at 220 bids/s).
workers = int(os.environ.get("WEB_WORKERS", multiprocessing.cpu_count()))
worker_class = "gevent"
worker_connections = 10000
# Streams are long-lived: send keep-alives and do not wait 30 s for them on restart.
graceful_timeout = 10
timeout = 60
keepalive = 5
#: ``ACCESS_LOG``: a file, ``-`` (standard output, the default) or empty for none.
accesslog = os.environ.get("ACCESS_LOG", "-") or None
# Never log query strings of sensitive pages in full; the default format is fine: bodies are
# never logged, and identity numbers only travel in POST bodies.
preload_app = False


def on_starting(server):
    """Refuse to start a deployment whose pools could open more PostgreSQL connections than the
    server accepts: past ``max_connections`` every new connection fails, bids included.

    Checked in a child process: the master must not import the database driver, which picks
    its way of waiting at import, before the gevent workers patch ``select`` (a worker then
    blocks on every database wait, and the live listener blocks it for good)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "core.db", "check-budget", str(workers)], check=False,
                          cwd=os.path.dirname(os.path.abspath(__file__)))
    if done.returncode != 0:
        raise SystemExit(done.returncode)


def post_worker_init(worker):
    """Move everything the app built at start (modules, templates, the engine) out of the
    garbage collector's reach: full collections over it paused a worker with ~1,000 streams for
    250–450 ms (bench/live.py --gc-log), making every watcher of a bid late at once."""
    import gc

    gc.collect()
    gc.freeze()
    thresholds = os.environ.get("GC_THRESHOLDS")
    if thresholds:
        gc.set_threshold(*(int(t) for t in thresholds.split(",")))
