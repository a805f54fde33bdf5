"""Bids on a hot lot through HTTP vs. the bare single-row transaction, and the realistic peak.

Targets (DESIGN.md §6): accepted bids/s on one lot through the app ≥ 0.8 × the bare single-row
bid transaction on the same database with the same clients, with no acknowledged bid lost,
duplicated or misordered; and at the realistic peak (1,000 open lots, 200 bids/s spread over
them plus one lot at 20 bids/s) bid p99 ≤ 50 ms. PostgreSQL only.

What it does:

1. creates its own database (dropped at the end, also on failure or Ctrl-C) and builds the
   rounds through the auction services (case, priced asset, lot, notices, publication, then
   ``auction.services.run_due`` opens the bidding), as ``bench/close.py`` does, in
   ``--build-procs`` child processes; every end is then moved to tomorrow, so no bid falls in
   the last 5 minutes. Bidders are made with ``tests.factories.make_bidder`` and get their API
   token from ``accounts.services.issue_api_token``; registrations with held deposits are bulk
   inserted (what the finance officer's confirmation leaves behind);
2. **bare**: ``--clients`` threads, each on its own connection, run the minimal bid transaction
   on one round with plain SQLAlchemy (``text()``): ``SELECT … FOR UPDATE`` the round and its
   book, ``INSERT`` the bid (``clock_timestamp()``), ``UPDATE`` the book, ``COMMIT`` — the
   physical limit of one hot row on this machine;
3. **hot lot over HTTP**: serves the app with the production settings (``gunicorn -c
   gunicorn.conf.py wsgi:app``, gevent, ``ENV=production``) on a free 127.0.0.1 port, for each
   ``--workers`` count; ``--clients`` keep-alive connections from one raw asyncio client
   (hand-written HTTP/1.1, no client library) each post bids to ``POST /api/v1/rounds/<id>/bids``
   back to back for ``--warmup`` + ``--seconds``. How a client picks its amount
   (``--strategies``, the first one is the headline):

   * ``clock``: ``starting price + increment × µs since the start`` (strictly increasing in the
     order the client sends them, and never below the best price seen): a bid is refused only
     when a later one overtook it inside the server;
   * ``next``: the best price seen in any receipt + one increment: what 32 people pressing
     "bid the minimum" at once do; most are refused as outbid (most of those before the round's
     lock, from the snapshot read ahead of it: decision 0012);

   then audits the round against the receipts (below);
4. **realistic peak** (on the first ``--workers`` count's server): open-loop Poisson arrivals,
   ``--peak-rate`` bids/s over ``--peak-lots`` open rounds (random lot, random bidder registered
   on it, best price seen + one increment) plus ``--hot-rate`` bids/s on one of them, for
   ``--peak-warmup`` + ``--peak-seconds`` (only the bids scheduled after the warm-up count). Each
   bid goes out at its scheduled time on the longest-idle of ``--max-conns`` keep-alive
   connections (many bidders; a request waits in the client only when all are busy), and its
   latency is taken from the *scheduled* time, so a server that falls behind cannot hide it
   (coordinated omission); the client's send lag and its own event-loop lag are reported apart.
   Refusals (409: outbid by a concurrent bid) are answers, not errors; ``answered_per_s`` below
   the offered rate means the server cannot keep up and the latency grows with the run.

Audit (``anomalies``): every receipt (201, or 200 for a repeated key) is in ``bids`` exactly
once with its seq, amount and receipt time; no bid is in the database that was refused or never
sent; per round, seqs are 1..n, amounts strictly increase and receipt times never go back with
seq; the book's price, leader and count are the last bid's; the end time is the original end
folded through
``bidding.rules.extended_end`` (and each receipt's ``end_at`` and each bid's ``extended_to``
agree); each bid has its ``bid.placed`` ledger entry with the same seq, code and amount; and
``core.audit.verify`` finds nothing anywhere.

Prints figures with the machine, the versions, the command line and the CPU each party used
(the client, the gunicorn workers, the PostgreSQL backends of this database, the whole machine);
the last line is one JSON object. Usage:

    .venv/bin/python bench/bids.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
        [--workers 4] [--clients 32] [--seconds 10] [--warmup 2] [--strategies clock,next]
        [--peak-lots 1000] [--peak-rate 200] [--hot-rate 20] [--peak-seconds 30] [--peak-warmup 5]
        [--max-conns 48] [--skip-peak] [--skip-hot]
        [--diagnose [--profile]]

``--diagnose`` serves ``bench/bids.py``'s instrumented app instead of ``wsgi:app`` (same app,
plus per-request timers of the SQL statements, the round lock, the commit and the parts of a
bid request; ``--profile`` adds cProfile on each worker's CPU clock, which makes the Python
three to four times slower) and prints where the time of a bid goes: use it to explain a
figure, never to quote one. ``--pool`` (with ``--diagnose``) and ``--gunicorn-args`` are
experiments on top of the production settings, recorded in the JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import GunicornServer, server_env  # noqa: E402

UTC = timezone.utc
TARGET_RATIO = 0.8
TARGET_PEAK_P99_MS = 50.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
REQUEST_TIMEOUT = 30.0
RUN_KEYS = ("workers", "strategy", "accepted_per_s", "requests_per_s", "acceptance", "ratio", "errors")


# --- small helpers -------------------------------------------------------------------------------------


def pct(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of a sorted list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summary(values: list[float], nd: int = 2) -> dict:
    v = sorted(values)
    if not v:
        return {"n": 0}
    return {"n": len(v), "p50": round(pct(v, 50), nd), "p95": round(pct(v, 95), nd), "p99": round(pct(v, 99), nd),
            "max": round(v[-1], nd), "mean": round(sum(v) / len(v), nd)}


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def pids_with(text: str, comm: str) -> list[int]:
    """Processes named ``comm`` whose command line contains ``text``."""
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if (p / "comm").read_text().strip() != comm:
                continue
            if text in (p / "cmdline").read_bytes().decode(errors="replace"):
                out.append(int(p.name))
        except OSError:
            continue
    return out


def machine_jiffies() -> tuple[int, int, int]:
    """(busy, total, steal) jiffies of the whole machine (steal: a hypervisor ran someone else)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    steal = f[7] if len(f) > 7 else 0
    return sum(f) - idle - steal, sum(f), steal


class CpuMeter:
    """CPU used by this process, the gunicorn workers, this database's PostgreSQL backends and
    the whole machine between :meth:`start` and :meth:`stop`, in % of one core."""

    def __init__(self, db_name: str, worker_pids: list[int]):
        self.db_name, self.workers = db_name, worker_pids

    def _snap(self) -> dict:
        backends = pids_with(f" {self.db_name} ", "postgres")
        return {"t": time.monotonic(), "self": time.process_time(), "machine": machine_jiffies(),
                "workers": {p: cpu_seconds(p) for p in self.workers},
                "pg": {p: cpu_seconds(p) for p in backends}}

    def start(self) -> None:
        self.a = self._snap()

    def stop(self) -> dict:
        b = self._snap()
        wall = b["t"] - self.a["t"]

        def delta(group: str) -> float:
            total = 0.0
            for pid, after in b[group].items():
                if after is None:
                    continue
                total += after - (self.a[group].get(pid) or 0.0)  # a backend born in between: all of it
            return total

        busy = 100 * (os.cpu_count() or 1) * (b["machine"][0] - self.a["machine"][0]) / max(
            1, b["machine"][1] - self.a["machine"][1])
        client, workers, pg = (100 * (b["self"] - self.a["self"]) / wall, 100 * delta("workers") / wall,
                               100 * delta("pg") / wall)
        return {"wall_s": round(wall, 2), "client_pct": round(client, 1), "workers_pct": round(workers, 1),
                "per_worker_pct": [round(100 * ((b["workers"][p] or 0) - (self.a["workers"][p] or 0)) / wall, 1)
                                   for p in self.workers],
                "postgres_backends_pct": round(pg, 1), "machine_busy_pct": round(busy, 1),
                "steal_pct": round(100 * (os.cpu_count() or 1) * (b["machine"][2] - self.a["machine"][2]) / max(
                    1, b["machine"][1] - self.a["machine"][1]), 1),
                # everything else on the machine (other work, PostgreSQL's own processes, the kernel)
                "others_pct": round(busy - client - workers - pg, 1)}


def versions(engine) -> dict:
    from importlib.metadata import version

    from sqlalchemy import text

    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        settings = {name: conn.execute(text(f"SHOW {name}")).scalar_one()
                    for name in ("synchronous_commit", "fsync", "max_connections", "shared_buffers")}
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), 0)
    return {"cpus": os.cpu_count(), "mem_gib": round(mem / 1024 / 1024, 1), "kernel": platform.release(),
            "python": platform.python_version(), "postgresql": pg, "pg_settings": settings,
            **{name: version(name) for name in ("gunicorn", "gevent", "flask", "sqlalchemy", "psycopg")},
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()], "git": git_head(),
            # CPU seconds of a fixed pure-Python loop: runs on a shared VM compare only at equal speed
            "python_loop_s": python_loop_seconds()}


def python_loop_seconds() -> float:
    c0 = time.process_time()
    total = 0
    for i in range(5_000_000):
        total += i
    return round(time.process_time() - c0, 3)


def git_head() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "core", "bidding",
                                "accounts", "auction", "gunicorn.conf.py", "wsgi.py"], cwd=ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + (" + local changes: " + ", ".join(line[3:] for line in dirty.splitlines()) if dirty else "")


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def connections_per_worker(port: int, worker_pids: list[int]) -> list[int]:
    """How many established client connections to ``port`` each worker holds (its fds' inodes
    against the server side of each connection in ``/proc/net/tcp``)."""
    server_side = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and int(f[2].rsplit(":", 1)[1], 16) and f[3] == "01":
                server_side.add(int(f[9]))
    return [len(socket_inodes(pid) & server_side) for pid in worker_pids]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- building: rounds through the services, bidders, registrations -----------------------------------


def build_child(url: str, count: int, out: str, tag: str) -> None:
    """Child process: ``count`` published rounds (announced, start 5 days ago) through the auction
    services, as ``bench/close.py``'s ``build`` makes them; writes their ids to ``out``."""
    from sqlalchemy.orm import Session

    from auction import services as auction_services
    from core.calendar import WorkCalendar
    from core.context import Context
    from core.db import make_engine
    from core.rulebook import SPC
    from tests import factories
    from tests.auction.test_services import notify_all, terms
    from tests.factories import VAULT, make_case, make_priced_asset

    # the factories number courts, users and cases from one counter per process: give each
    # child its own range (the parent's bidders use the first one)
    factories._seq = itertools.count((int(tag) + 1) * 10_000_000)
    engine = make_engine(url, pool_size=2)
    real_now = datetime.now(UTC)
    past = Context(now=real_now - timedelta(days=40), rulebook=SPC, calendar=WorkCalendar(), vault=VAULT,
                   store=None, base_url="http://127.0.0.1:5000")
    ids = []
    with Session(engine, expire_on_commit=False) as s:
        for i in range(count):
            case = make_case(s)
            asset = make_priced_asset(s, case)
            world = {"case": case, "officer": case.officer, "asset": asset}
            s.commit()
            lot = auction_services.create_lot(s, actor=case.officer, asset_ids=[asset.id],
                                              title=f"竞价基准标的{tag}-{i}", terms=terms(past), ctx=past)
            rnd = lot.current
            notify_all(s, world, rnd, past, past.now - timedelta(days=4))
            auction_services.publish(s, actor=case.officer, round_id=rnd.id, ctx=past)
            ids.append(rnd.id)
    engine.dispose()
    Path(out).write_text(json.dumps(ids))


def build_rounds(url: str, engine, count: int, procs: int, tmp: Path) -> list[int]:
    """``count`` rounds in BIDDING ending tomorrow, built by ``procs`` child processes; opened by
    one ``auction.services.run_due`` here (so no two processes open the same rounds)."""
    from dataclasses import replace

    from sqlalchemy import func, select, update
    from sqlalchemy.orm import Session

    from auction import services as auction_services
    from auction.models import Round
    from auction.rules import RoundState
    from core.calendar import WorkCalendar
    from core.context import Context
    from core.rulebook import SPC
    from tests.factories import VAULT

    procs = max(1, min(procs, count))
    shares = [count // procs + (1 if i < count % procs else 0) for i in range(procs)]
    env = {k: v for k, v in os.environ.items() if k not in ("RULEBOOK", "CLOCK", "DATABASE_URL")}
    children = []
    for i, n in enumerate(shares):
        out = tmp / f"build-{i}.json"
        log = open(tmp / "logs" / f"build-{i}.log", "wb")  # noqa: SIM115 - closed below
        children.append((subprocess.Popen([sys.executable, __file__, "--build-child", url, str(n), str(out), str(i)],
                                          cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), out, log))
    ids: list[int] = []
    try:
        for proc, out, log in children:
            if proc.wait(timeout=3600) != 0:
                raise RuntimeError(f"a build child failed; see {log.name}")
            ids.extend(json.loads(out.read_text()))
    finally:
        for proc, _, log in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    real_now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as s:
        latest = s.scalar(select(func.max(Round.start_at)).where(Round.id.in_(ids)))
        ctx = Context(now=latest, rulebook=SPC, calendar=WorkCalendar(), vault=VAULT, store=None,
                      base_url="http://127.0.0.1:5000")
        auction_services.run_due(s, replace(ctx, now=latest))
        s.execute(update(Round).where(Round.id.in_(ids)).values(end_at=real_now + timedelta(days=1)))
        s.commit()
        bidding = s.scalar(select(func.count()).select_from(Round).where(Round.id.in_(ids),
                                                                          Round.state == RoundState.BIDDING))
    if bidding != len(ids):
        raise RuntimeError(f"only {bidding} of {len(ids)} rounds are in bidding")
    return sorted(ids)


def make_bidders(engine, n: int) -> list[dict]:
    """``n`` bidders with a verified real name and an API token each."""
    from sqlalchemy.orm import Session

    from accounts.services import issue_api_token
    from tests.factories import make_bidder

    out = []
    with Session(engine, expire_on_commit=False) as s:
        users = [make_bidder(s, real_name=f"竞价基准{i}") for i in range(n)]
        s.commit()
        now = datetime.now(UTC)
        for u in users:
            out.append({"user_id": u.id, "token": issue_api_token(s, user=u, name="bench-bids", now=now)})
    return out


def register(engine, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], dict]:
    """Qualified registrations (held bank deposits) for ``(round_id, user_id)`` pairs, bulk
    inserted. Returns ``{(round, user): {"id", "code"}}``."""
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from auction.models import Round
    from bidding import rules
    from bidding.models import Deposit, Registration
    from bidding.rules import DepositState

    with Session(engine) as s:
        rounds = {r.id: r for r in s.execute(select(Round.id, Round.start_at, Round.deposit)
                                             .where(Round.id.in_({rid for rid, _ in pairs})))}
        used: dict[int, set] = defaultdict(set)
        rows = []
        for rid, uid in pairs:
            code = rules.new_bidder_code()
            while code in used[rid]:
                code = rules.new_bidder_code()
            used[rid].add(code)
            start = rounds[rid].start_at
            rows.append({"round_id": rid, "user_id": uid, "code": code, "housing_promise": True,
                         "qualified_at": start, "created_at": start, "priority_holder_id": None,
                         "priority_rank": None})
        got = {}
        for i in range(0, len(rows), 5000):
            chunk = rows[i:i + 5000]
            res = s.execute(insert(Registration).returning(Registration.id, Registration.round_id,
                                                           Registration.user_id, Registration.code,
                                                           sort_by_parameter_order=True), chunk).all()
            deposits = []
            for r in res:
                got[(r.round_id, r.user_id)] = {"id": r.id, "code": r.code}
                start = rounds[r.round_id].start_at
                deposits.append({"registration_id": r.id, "amount": rounds[r.round_id].deposit, "method": "bank",
                                 "state": DepositState.HELD, "payer_name": "竞价基准", "bank_reference": f"B{r.id}",
                                 "gateway_tx": None, "declared_at": start, "confirmed_at": start})
            s.execute(insert(Deposit), deposits)
        s.commit()
    return got


def round_terms(engine, ids: list[int]) -> dict[int, dict]:
    from sqlalchemy import select

    from auction.models import Round

    with engine.connect() as conn:
        return {r.id: {"start": r.starting_price, "inc": r.increment, "end_at": r.end_at}
                for r in conn.execute(select(Round.id, Round.starting_price, Round.increment, Round.end_at)
                                      .where(Round.id.in_(ids)))}


# --- the bare single-row transaction -------------------------------------------------------------------


BARE_LOCK = ("SELECT b.current_price, b.bid_count FROM rounds r JOIN round_books b ON b.round_id = r.id "
             "WHERE r.id = :r FOR UPDATE")
BARE_INSERT = ("INSERT INTO bids (round_id, seq, registration_id, code, amount, received_at, idempotency_key) "
               "VALUES (:r, :seq, :reg, :code, :amount, clock_timestamp(), :key)")
BARE_UPDATE = ("UPDATE round_books SET current_price = :amount, leader_registration_id = :reg, leader_code = :code, "
               "bid_count = :seq WHERE round_id = :r")


def bare_phase(url: str, *, round_id: int, regs: list[dict], start: Decimal, inc: Decimal, warmup: float,
               seconds: float, meter: CpuMeter) -> dict:
    """``len(regs)`` threads, one connection each, the minimal locked bid transaction back to back."""
    from sqlalchemy import text

    from core.db import make_engine

    n = len(regs)
    engine = make_engine(url, pool_size=n + 2, max_overflow=0, pool_pre_ping=False)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO round_books (round_id, bid_count) VALUES (:r, 0)"), {"r": round_id})
    lock_sql, insert_sql, update_sql = text(BARE_LOCK), text(BARE_INSERT), text(BARE_UPDATE)
    barrier = threading.Barrier(n + 1)
    t = {}
    results: list[list] = [[] for _ in range(n)]
    errors = Counter()

    def worker(i: int) -> None:
        reg = regs[i]
        with engine.connect() as conn:
            barrier.wait()
            k = 0
            while True:
                t0 = time.perf_counter()
                if t0 >= t["stop"]:
                    break
                try:
                    with conn.begin():
                        price, count = conn.execute(lock_sql, {"r": round_id}).one()
                        seq = count + 1
                        amount = start if price is None else price + inc
                        conn.execute(insert_sql, {"r": round_id, "seq": seq, "reg": reg["id"], "code": reg["code"],
                                                  "amount": amount, "key": f"bare-{i}-{k}"})
                        conn.execute(update_sql, {"r": round_id, "seq": seq, "reg": reg["id"], "code": reg["code"],
                                                  "amount": amount})
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors[type(exc).__name__] += 1
                    continue
                finally:
                    k += 1
                results[i].append((t0, time.perf_counter()))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    t0 = time.perf_counter()
    t["measure"], t["stop"] = t0 + warmup, t0 + warmup + seconds
    barrier.wait()
    time.sleep(max(0.0, t["measure"] - time.perf_counter()))
    meter.start()
    time.sleep(max(0.0, t["stop"] - time.perf_counter()))
    cpu = meter.stop()
    for th in threads:
        th.join(REQUEST_TIMEOUT)
    engine.dispose()
    lat = [(b - a) * 1000 for r in results for a, b in r if a >= t["measure"] and b <= t["stop"]]
    total = sum(len(r) for r in results)
    # integrity of the bare round (not part of the target, a sanity check of the measurement)
    check_engine = make_engine(url, pool_size=1)
    with check_engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, amount FROM bids WHERE round_id = :r ORDER BY seq"),
                            {"r": round_id}).all()
    check_engine.dispose()
    bad = sum(1 for k, r in enumerate(rows) if r.seq != k + 1 or (k and r.amount <= rows[k - 1].amount))
    return {"bids_per_s": round(len(lat) / seconds, 1), "latency_ms": summary(lat), "committed_total": total,
            "in_db": len(rows), "sequence_anomalies": bad + abs(len(rows) - total), "errors": dict(errors),
            "cpu": cpu}


# --- a raw HTTP/1.1 client ---------------------------------------------------------------------------


#: gunicorn.conf.py closes a keep-alive connection idle for 5 s: like any HTTP client, do not
#: reuse one idle for longer than this (it may be closing as the request is sent).
IDLE_DROP_S = 4.0


class Conn:
    """One keep-alive connection (``asyncio.open_connection``, hand-written HTTP/1.1)."""

    retries = 0  # over all connections: requests re-sent because a reused connection closed under them

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None
        self.used_at = 0.0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.used_at = time.monotonic()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def request(self, method: str, path: str, *, token: str | None = None,
                      body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and read its answer. A reused connection the server closed before
        answering anything is retried once on a new one (what HTTP clients do; safe here: every
        bid carries its idempotency key)."""
        for attempt in (0, 1):
            fresh = self.writer is None or time.monotonic() - self.used_at > IDLE_DROP_S
            if fresh:
                self.close()
                await self.open()
            try:
                return await self._exchange(method, path, token, body)
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
                nothing = not getattr(exc, "partial", b"")
                if attempt == 0 and not fresh and nothing:
                    Conn.retries += 1
                    continue
                raise
        raise AssertionError("unreachable")

    async def _exchange(self, method: str, path: str, token: str | None, body: bytes) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        try:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            length, close = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip())
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            data = await asyncio.wait_for(self.reader.readexactly(length), REQUEST_TIMEOUT) if length else b""
        except BaseException:
            self.close()
            raise
        self.used_at = time.monotonic()
        if close:
            self.close()
        return status, data


def bid_body(amount: Decimal, key: str) -> bytes:
    return json.dumps({"amount": f"{amount:.2f}", "idempotency_key": key}).encode()


# --- the hot lot over HTTP -------------------------------------------------------------------------


async def hot_clients(port: int, *, round_id: int, bidders: list[dict], start: Decimal, inc: Decimal,
                      strategy: str, warmup: float, seconds: float, meter: CpuMeter) -> dict:
    """One connection per bidder, each bidding back to back until the end; every request recorded."""
    conns = [Conn("127.0.0.1", port) for _ in bidders]
    for c in conns:
        await c.open()
        await asyncio.sleep(0.01)  # one at a time, as bidders arrive: lets every worker accept some
    await asyncio.sleep(0.2)
    spread = connections_per_worker(port, meter.workers)
    path = f"/api/v1/rounds/{round_id}/bids"
    best = {"price": None, "ticks": 0}
    records: list[dict] = []
    t0 = time.perf_counter()
    measure, stop = t0 + warmup, t0 + warmup + seconds
    rng = random.Random(5)
    # µs resolution, coarser for long runs: amounts stay well within Numeric(14, 2)
    per_s = min(1_000_000, int(5e10 / float(inc) / (warmup + seconds + 1)))

    def amount_for() -> Decimal:
        floor = start if best["price"] is None else best["price"] + inc
        if strategy == "clock":
            ticks = max(int((time.perf_counter() - t0) * per_s), best["ticks"] + 1)
            best["ticks"] = ticks
            return max(floor, start + inc * ticks)
        if strategy == "spread":
            return floor + inc * rng.randrange(len(bidders))
        return floor  # "next"

    async def one(i: int) -> None:
        conn, bidder = conns[i], bidders[i]
        k = 0
        while time.perf_counter() < stop:
            amount = amount_for()
            key = f"hot-{strategy}-{i}-{k}"
            k += 1
            rec = {"i": i, "key": key, "amount": amount, "sent": time.perf_counter()}
            records.append(rec)
            try:
                status, data = await conn.request("POST", path, token=bidder["token"], body=bid_body(amount, key))
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                rec.update(status=None, error=type(exc).__name__, done=time.perf_counter())
                await asyncio.sleep(0.05)
                continue
            rec.update(status=status, done=time.perf_counter())
            if status in (200, 201):
                got = json.loads(data)
                rec["receipt"] = got
                price = Decimal(got["amount"])
                if best["price"] is None or price > best["price"]:
                    best["price"] = price
            elif status != 409:
                rec["error"] = data[:200].decode(errors="replace")

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, measure - time.perf_counter()))
        meter.start()
        await asyncio.sleep(max(0.0, stop - time.perf_counter()))
        records.append({"cpu": meter.stop()})

    await asyncio.gather(sample_cpu(), *(one(i) for i in range(len(bidders))))
    for c in conns:
        c.close()
    cpu = next(r["cpu"] for r in records if "cpu" in r)
    records = [r for r in records if "cpu" not in r]
    return {"records": records, "measure": measure, "stop": stop, "cpu": cpu, "connections_per_worker": spread}


def hot_figures(run: dict, seconds: float) -> dict:
    # answers that arrived within the measured seconds (throughput), whenever they were sent
    window = [r for r in run["records"] if "done" in r and run["measure"] <= r["done"] <= run["stop"]]
    accepted = [r for r in window if r.get("status") in (200, 201)]
    refused = [r for r in window if r.get("status") == 409]
    errors = [r for r in window if r.get("status") not in (200, 201, 409)]
    lat_all = [(r["done"] - r["sent"]) * 1000 for r in window if "done" in r]
    lat_acc = [(r["done"] - r["sent"]) * 1000 for r in accepted]
    lat_ref = [(r["done"] - r["sent"]) * 1000 for r in refused]
    return {"accepted_per_s": round(len(accepted) / seconds, 1), "requests_per_s": round(len(window) / seconds, 1),
            "acceptance": round(len(accepted) / max(1, len(window)), 3), "refused": len(refused),
            "errors": len(errors), "error_kinds": dict(Counter(str(r.get("error") or r.get("status"))[:60]
                                                               for r in errors)),
            "latency_ms": summary(lat_all), "accepted_latency_ms": summary(lat_acc),
            "refused_latency_ms": summary(lat_ref)}


# --- the realistic peak ---------------------------------------------------------------------------------


async def peak_clients(port: int, *, lots: dict[int, dict], hot_round: int, rate: float, hot_rate: float,
                       warmup: float, seconds: float, max_conns: int, seed: int, meter: CpuMeter) -> dict:
    """Open loop: Poisson arrivals for ``warmup`` + ``seconds``, each request sent at its scheduled
    time on the longest-idle keep-alive connection of a pool of ``max_conns`` opened beforehand
    (many bidders: the load spreads over connections, hence over workers). Only bids scheduled
    after the warm-up are measured."""
    from collections import deque

    rng = random.Random(seed)
    ids = sorted(lots)
    events = []
    for r, pick in ((rate, lambda: rng.choice(ids)), (hot_rate, lambda: hot_round)):
        t = 0.0
        while r > 0:
            t += rng.expovariate(r)
            if t >= warmup + seconds:
                break
            events.append((t, pick()))
    events.sort()
    idle: deque[Conn] = deque()
    opened = [0]
    free = asyncio.Condition()
    records: list[dict] = []
    best: dict[int, Decimal | None] = {rid: None for rid in ids}
    keys = Counter()

    async def get_conn() -> Conn:
        async with free:
            while not idle and opened[0] >= max_conns:
                await free.wait()
            if idle:
                return idle.popleft()
            opened[0] += 1
        c = Conn("127.0.0.1", port)
        await c.open()
        return c

    async def put_conn(c: Conn) -> None:
        async with free:
            if c.writer is None:
                opened[0] -= 1
            else:
                idle.append(c)
            free.notify()

    async def send(at: float, rid: int) -> None:
        lot = lots[rid]
        bidder = rng.choice(lot["bidders"])
        amount = lot["start"] if best[rid] is None else best[rid] + lot["inc"]
        keys[rid] += 1
        key = f"peak-{rid}-{keys[rid]}"
        rec = {"round": rid, "hot": rid == hot_round, "key": key, "amount": amount, "user": bidder["user_id"],
               "scheduled": at}
        records.append(rec)
        try:
            conn = await get_conn()
        except OSError as exc:
            rec.update(status=None, error=type(exc).__name__, done=time.perf_counter())
            return
        rec["sent"] = time.perf_counter()
        try:
            status, data = await conn.request("POST", f"/api/v1/rounds/{rid}/bids", token=bidder["token"],
                                              body=bid_body(amount, key))
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            rec.update(status=None, error=type(exc).__name__, done=time.perf_counter())
            await put_conn(conn)
            return
        rec.update(status=status, done=time.perf_counter())
        await put_conn(conn)
        if status in (200, 201):
            got = json.loads(data)
            rec["receipt"] = got
            price = Decimal(got["amount"])
            if best[rid] is None or price > best[rid]:
                best[rid] = price
        elif status != 409:
            rec["error"] = data[:200].decode(errors="replace")

    # a few connections ready, as a browser population would have
    for _ in range(max_conns):
        c = Conn("127.0.0.1", port)
        await c.open()
        idle.append(c)
        opened[0] += 1
        await asyncio.sleep(0.01)  # one at a time, as bidders arrive: lets every worker accept some
    spread = connections_per_worker(port, meter.workers)
    tasks = []
    Conn.retries = 0
    start = time.perf_counter() + 0.2
    t0 = start + warmup
    t0_wall = time.time() + (t0 - time.perf_counter())
    await asyncio.sleep(0.2)
    measuring = False
    lags: list[float] = []

    async def sample_lag() -> None:  # the client's own event-loop lag: a late client is not a slow server
        end = start + warmup + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            if t >= t0:
                lags.append((time.perf_counter() - t - 0.01) * 1000)

    lag_task = asyncio.ensure_future(sample_lag())
    for at, rid in events:
        delay = start + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not measuring and at >= warmup:
            measuring = True
            meter.start()
        tasks.append(asyncio.ensure_future(send(start + at, rid)))
    await asyncio.gather(*tasks, lag_task)
    cpu = meter.stop()
    for c in idle:
        c.close()
    measured = [r for r in records if r["scheduled"] >= t0]
    return {"records": records, "measured": measured, "t0": t0, "t0_wall": t0_wall, "cpu": cpu,
            "connections_opened": opened[0], "retries": Conn.retries, "connections_per_worker": spread,
            "loop_lag_ms": summary(lags)}


def peak_figures(run: dict, seconds: float) -> dict:
    recs = run["measured"]
    done = [r for r in recs if "done" in r]
    lat = [(r["done"] - r["scheduled"]) * 1000 for r in done if r.get("status") in (200, 201, 409)]
    hot = [(r["done"] - r["scheduled"]) * 1000 for r in done if r["hot"] and r.get("status") in (200, 201, 409)]
    lag = [(r["sent"] - r["scheduled"]) * 1000 for r in recs if "sent" in r]
    errors = [r for r in recs if r.get("status") not in (200, 201, 409)]
    last = max((r["done"] for r in done), default=run["t0"])
    answered_in_time = sum(1 for r in done if r["done"] <= run["t0"] + seconds and r.get("status") in (200, 201, 409))
    by_second = defaultdict(list)
    for r in done:
        if r.get("status") in (200, 201, 409):
            by_second[int(r["scheduled"] - run["t0"])].append((r["done"] - r["scheduled"]) * 1000)
    seconds_p99 = {sec: round(pct(sorted(v), 99), 1) for sec, v in sorted(by_second.items())}
    return {"rate": round(len(recs) / seconds, 1), "sent": len(recs),
            # below the offered rate: the server cannot keep up and the queue (and latency) grows with time
            "answered_per_s": round(answered_in_time / seconds, 1),
            "refused_hot": sum(1 for r in recs if r.get("status") == 409 and r["hot"]),
            "accepted": sum(1 for r in recs if r.get("status") in (200, 201)),
            "refused": sum(1 for r in recs if r.get("status") == 409), "errors": len(errors),
            "error_kinds": dict(Counter(str(r.get("error") or r.get("status"))[:60] for r in errors)),
            "latency_ms": summary(lat), "hot_lot_latency_ms": summary(hot), "send_lag_ms": summary(lag),
            "drain_s": round(last - run["t0"] - seconds, 2), "connections_opened": run["connections_opened"],
            "retried_on_closed_connection": run["retries"], "connections_per_worker": run["connections_per_worker"],
            "client_loop_lag_ms": run["loop_lag_ms"],
            # p99 of the bids scheduled in each second: a stall shows as a few bad seconds
            "p99_ms_by_second": seconds_p99, "t0_wall": run["t0_wall"]}


# --- the audit -------------------------------------------------------------------------------------------


def _ms(value) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None


def audit(engine, *, round_ids: list[int], original: dict[int, dict], records: list[dict],
          reg_of: dict[tuple[int, int], dict], user_of_record) -> dict:
    """Receipts against the database (see the module's docstring). Returns counts of anomalies
    by kind and the first few described."""
    from sqlalchemy import select

    from auction.models import Round
    from bidding import rules
    from bidding.models import Bid, Book
    from core.audit import AuditEntry
    from core.rulebook import SPC

    window = SPC.extension_window
    kinds: Counter = Counter()
    examples: list[str] = []

    def bad(kind: str, what: str) -> None:
        kinds[kind] += 1
        if len(examples) < 10:
            examples.append(f"{kind}: {what}")

    with engine.connect() as conn:
        bids = defaultdict(list)
        for b in conn.execute(select(Bid.round_id, Bid.seq, Bid.amount, Bid.received_at, Bid.code,
                                     Bid.registration_id, Bid.idempotency_key, Bid.extended_to)
                              .where(Bid.round_id.in_(round_ids)).order_by(Bid.round_id, Bid.seq)):
            bids[b.round_id].append(b)
        books = {b.round_id: b for b in conn.execute(select(Book).where(Book.round_id.in_(round_ids)))}
        ends = dict(conn.execute(select(Round.id, Round.end_at).where(Round.id.in_(round_ids))).all())
        ledger = defaultdict(dict)
        streams = [f"round:{rid}" for rid in round_ids]
        for e in conn.execute(select(AuditEntry.stream, AuditEntry.payload)
                              .where(AuditEntry.action == "bid.placed", AuditEntry.stream.in_(streams))):
            p = json.loads(e.payload)
            rid = int(e.stream.split(":")[1])
            if p["seq"] in ledger[rid]:
                bad("ledger_duplicate", f"round {rid} seq {p['seq']}")
            ledger[rid][p["seq"]] = p
    by_key = {}
    for b in (b for rows in bids.values() for b in rows):
        k = (b.round_id, b.registration_id, b.idempotency_key)
        if k in by_key:
            bad("duplicate_in_db", f"round {b.round_id} key {b.idempotency_key}")
        by_key[k] = b
    sent_keys = {}
    for r in records:
        rid = r["round"]
        reg = reg_of[(rid, user_of_record(r))]
        sent_keys[(rid, reg["id"], r["key"])] = r
        b = by_key.get((rid, reg["id"], r["key"]))
        if r.get("status") in (200, 201):
            got = r["receipt"]
            if b is None:
                bad("acknowledged_missing", f"round {rid} seq {got['seq']} {got['amount']}")
            elif (b.seq != got["seq"] or b.amount != Decimal(got["amount"]) or b.amount != r["amount"]
                  or _ms(b.received_at) != got["received_at"] or b.code != reg["code"]):
                bad("acknowledged_differs", f"round {rid} receipt {got} vs seq {b.seq} {b.amount} {_ms(b.received_at)}")
        elif r.get("status") in (409, 400, 401, 403, 404) and b is not None:
            bad("refused_but_in_db", f"round {rid} key {r['key']} status {r['status']}")
    unknown = {k for k, r in sent_keys.items() if r.get("status") not in (200, 201, 400, 401, 403, 404, 409)}
    unanswered_in_db = 0
    for k, b in by_key.items():
        if k not in sent_keys:
            bad("never_sent_but_in_db", f"round {b.round_id} seq {b.seq} key {b.idempotency_key}")
        elif k in unknown:
            unanswered_in_db += 1  # a request whose answer was lost may have been accepted: not an anomaly
    receipts_by_seq = {(r["round"], r["receipt"]["seq"]): r["receipt"]
                       for r in records if r.get("status") in (200, 201)}
    for rid in round_ids:
        rows = bids.get(rid, [])
        end = original[rid]["end_at"]
        for k, b in enumerate(rows):
            if b.seq != k + 1:
                bad("seq_gap", f"round {rid} position {k + 1} has seq {b.seq}")
            if k and b.amount <= rows[k - 1].amount:
                bad("amount_not_increasing", f"round {rid} seq {b.seq} {b.amount} after {rows[k - 1].amount}")
            if k and b.received_at < rows[k - 1].received_at:
                bad("time_goes_back", f"round {rid} seq {b.seq}")
            new_end = rules.extended_end(end, b.received_at, window)
            extended = b.extended_to is not None
            if extended != (new_end != end) or (extended and b.extended_to != new_end):
                bad("extension_wrong", f"round {rid} seq {b.seq}")
            end = new_end
            rec = receipts_by_seq.get((rid, b.seq))
            if rec is not None and rec["end_at"] != _ms(end):
                bad("receipt_end_wrong", f"round {rid} seq {b.seq}: {rec['end_at']} vs {_ms(end)}")
            entry = ledger[rid].get(b.seq)
            if entry is None or entry["code"] != b.code or Decimal(entry["amount"]) != b.amount:
                bad("ledger_entry_wrong", f"round {rid} seq {b.seq}: {entry}")
        if len(ledger[rid]) != len(rows):
            bad("ledger_count_wrong", f"round {rid}: {len(ledger[rid])} entries for {len(rows)} bids")
        if ends[rid] != end:
            bad("end_wrong", f"round {rid}: {ends[rid]} vs {end}")
        book = books.get(rid)
        if rows:
            last = rows[-1]
            if book is None or (book.current_price, book.leader_code, book.leader_registration_id, book.bid_count) != (
                    last.amount, last.code, last.registration_id, len(rows)):
                bad("book_wrong", f"round {rid}: {book and (book.current_price, book.leader_code, book.bid_count)}"
                                  f" vs last bid {last.seq} {last.amount} {last.code}")
        elif book is not None and book.bid_count:
            bad("book_wrong", f"round {rid}: book without bids")
    return {"anomalies": sum(kinds.values()), "by_kind": dict(kinds), "examples": examples,
            "bids_in_db": sum(len(v) for v in bids.values()),
            "acknowledged": sum(1 for r in records if r.get("status") in (200, 201)),
            "unanswered": len(unknown), "unanswered_in_db": unanswered_in_db}


# --- the server --------------------------------------------------------------------------------------------


class Gunicorn(GunicornServer):
    def __init__(self, *, db_url: str, instance: Path, port: int, workers: int, log: Path, diagnose: Path | None,
                 profile: bool = False, extra: list[str] | None = None, pool: str | None = None):
        env = server_env(db_url=db_url, instance=instance, port=port, workers=workers, secret="bench-bids-secret")
        app = "wsgi:app"
        if diagnose is not None:
            env["BENCH_BIDS_DIAG"] = str(diagnose)
            env["BENCH_BIDS_PROFILE"] = "1" if profile else "0"
            if pool:
                env["BENCH_BIDS_POOL"] = pool
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "bench"), env.get("PYTHONPATH")]))
            app = "bids:diagnostic_app()"
        super().__init__(env=env, port=port, workers=workers, log=log, app=app, extra=extra)


# --- --diagnose: the same app, instrumented ------------------------------------------------------------


def diagnostic_app():
    """The app of ``wsgi.py`` with per-request timers, for ``gunicorn … 'bids:diagnostic_app()'``.

    Per bid request, in the worker: wall time of the request; of each SQL statement (from the
    driver call to its return, so it includes the wait for this greenlet to be scheduled again);
    the round's lock held (from the ``FOR UPDATE`` on ``rounds`` returning to the commit or
    rollback returning) split into SQL and the rest (Python and waiting for the CPU); the commit.
    Each worker also runs cProfile. Everything is written to ``$BENCH_BIDS_DIAG/diag-<pid>.*``
    every second while requests come, and at exit.
    """
    import atexit
    import cProfile
    import re

    import gevent
    from gevent import getcurrent
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from core import create_app

    out_dir = Path(os.environ["BENCH_BIDS_DIAG"])
    app = create_app()
    if os.environ.get("BENCH_BIDS_POOL"):  # experiment: another pool than core.db.make_engine's 10 + 20
        from sqlalchemy.orm import sessionmaker

        from core.db import make_engine

        size, overflow = (int(x) for x in os.environ["BENCH_BIDS_POOL"].split(","))
        db = app.extensions["database"]
        db._engine, db._pid = make_engine(db.url, pool_size=size, max_overflow=overflow), os.getpid()
        db._factory = sessionmaker(db._engine, expire_on_commit=False)
    engine = app.extensions["database"].engine
    stats = {"requests": 0, "bid_requests": 0, "request_ms": [], "lock_ms": [], "lock_sql_ms": [],
             "lock_stmt_count": [], "commit_ms": [], "lock_commit_ms": [], "before_lock_ms": [], "lock_wait_ms": [],
             "after_lock_ms": [],
             "stmt": defaultdict(lambda: [0, 0.0]), "stmt_in_lock": defaultdict(lambda: [0, 0.0]),
             "request_thread_cpu_ms": [], "components": defaultdict(float)}
    import psycopg.waiting

    stats["psycopg_wait"] = psycopg.waiting.wait.__name__  # wait_c would block the whole worker
    state: dict = {}  # greenlet -> per-request state
    word = re.compile(r"\s+")

    def label(sql: str) -> str:
        s = word.sub(" ", sql).strip()
        if s.startswith("SELECT"):
            frm = s.find(" FROM ")
            tail = s[frm + 6:frm + 40] if frm > 0 else s[7:40]
            return "SELECT … FROM " + tail + (" FOR UPDATE" if "FOR UPDATE" in s else "")
        return s[:60]

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, params, context, executemany):
        st = state.get(getcurrent())
        if st is not None:
            st["q0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, params, context, executemany):
        st = state.get(getcurrent())
        if st is None or "q0" not in st:
            return
        now = time.perf_counter()
        dt = now - st.pop("q0")
        lab = label(statement)
        rec = stats["stmt"][lab]
        rec[0] += 1
        rec[1] += dt
        if "lock" in st:
            r2 = stats["stmt_in_lock"][lab]
            r2[0] += 1
            r2[1] += dt
            st["lock_sql"] += dt
            st["lock_n"] += 1
        elif "FOR UPDATE" in statement and "FROM rounds" in statement:
            st["lock"] = now
            st["lock_sql"], st["lock_n"] = 0.0, 0
            stats["lock_wait_ms"].append(dt * 1000)
            stats["before_lock_ms"].append((now - dt - st["t0"]) * 1000)

    @event.listens_for(engine, "commit")
    def _commit(conn):
        st = state.get(getcurrent())
        if st is not None:
            st["c0"] = time.perf_counter()

    def _end(session, *_):
        st = state.get(getcurrent())
        if st is None:
            return
        now = time.perf_counter()
        commit = (now - st.pop("c0")) if "c0" in st else 0.0
        if commit:
            stats["commit_ms"].append(commit * 1000)
        if "lock" in st:
            held = now - st.pop("lock")
            stats["lock_ms"].append(held * 1000)
            stats["lock_commit_ms"].append(commit * 1000)
            stats["lock_sql_ms"].append(st["lock_sql"] * 1000)
            stats["lock_stmt_count"].append(st["lock_n"])
            st["lock_released"] = now

    event.listen(Session, "after_commit", _end)
    event.listen(Session, "after_rollback", _end)

    stats["db_connects"] = 0
    # the worker's garbage-collector pauses ≥ 1 ms (every greenlet of the worker waits meanwhile)
    import gc

    stats["gc_pauses"] = []  # [wall clock at the end, generation, ms]
    gc_start = [0.0]

    def gc_pause(phase: str, info: dict) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            ms = (time.perf_counter() - gc_start[0]) * 1000
            if ms >= 1:
                stats["gc_pauses"].append([round(time.time(), 3), info.get("generation"), round(ms, 2)])

    gc.callbacks.append(gc_pause)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):
        stats["db_connects"] += 1

    # On for the worker's whole life: with greenlets, switching it per request would profile
    # whichever greenlet runs in between. The thread's CPU clock, so waiting for PostgreSQL in the
    # hub counts nothing. It doubles the Python time: the timers run without it.
    profile = cProfile.Profile(time.thread_time) if os.environ.get("BENCH_BIDS_PROFILE") == "1" else None
    if profile:
        profile.enable()

    def dump() -> None:
        pid = os.getpid()
        data = {k: (dict(v) if isinstance(v, defaultdict) else v) for k, v in stats.items()}
        (out_dir / f"diag-{pid}.json").write_text(json.dumps(data))
        if profile:
            profile.disable()
            profile.dump_stats(str(out_dir / f"diag-{pid}.prof"))
            profile.enable()

    atexit.register(dump)
    changed = [0, 0]

    def dumper() -> None:  # every second while requests come: the last dump follows the last request
        while True:
            gevent.sleep(1)
            if changed[0] != changed[1]:
                changed[1] = changed[0]
                dump()

    gevent.spawn(dumper)

    # Wall time of the parts of a bid request (outermost call per request; they nest: the
    # place_bid parts are inside place_bid, flushes inside audit.record and the commit).
    import functools

    import accounts.api
    import bidding.api
    import bidding.live
    import bidding.services
    import core.audit

    def timed(name: str, fn):
        @functools.wraps(fn)
        def timed_call(*args, **kwargs):
            st = state.get(getcurrent())
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if st is not None:
                    comp = st.setdefault("comp", defaultdict(float))
                    comp[name] += time.perf_counter() - t0
        return timed_call

    # whichever of these the code under test has (it moves): module, function, label
    for module, name, what in (
            (accounts.api, "user_for_token", "auth: user_for_token"),
            (bidding.api, "context_for", "context_for"),
            (bidding.services, "place_bid", "place_bid"),
            (bidding.services, "_lock_round", "place_bid: SELECT rounds FOR UPDATE (wait + read)"),
            (bidding.services, "_read_locked", "place_bid: lock (wait) + state and time"),
            (bidding.services, "_write_bid", "place_bid: the write statement"),
            (bidding.services, "_qualification_and_time", "place_bid: qualification and time"),
            (bidding.services, "server_time", "place_bid: server_time"),
            (core.audit, "append", "place_bid: audit.append"),
            (core.audit, "record", "audit.record"),
            (bidding.live, "publish_bid", "place_bid: live.publish_bid (pg_notify)")):
        if hasattr(module, name):
            setattr(module, name, timed(what, getattr(module, name)))

    # The driver-SQL hot path (decision 0012) has no cursor events: its lock is marked by
    # core.db.exclusive_waits, entered around the locking statement (the wait) and again once
    # the lock is granted (held until the commit or rollback, as above).
    if hasattr(bidding.services, "exclusive_waits"):
        import contextlib

        real_exclusive = bidding.services.exclusive_waits

        @contextlib.contextmanager
        def traced_exclusive(*args):
            st = state.get(getcurrent())
            if st is not None:
                now = time.perf_counter()
                if "wait0" not in st:
                    st["wait0"] = now
                    stats["before_lock_ms"].append((now - st["t0"]) * 1000)
                else:
                    stats["lock_wait_ms"].append((now - st["wait0"]) * 1000)
                    st["lock"], st["lock_sql"], st["lock_n"] = now, 0.0, 0
            with real_exclusive(*args):
                yield

        bidding.services.exclusive_waits = traced_exclusive

    @event.listens_for(Session, "before_flush")
    def _flush0(session, *_):
        st = state.get(getcurrent())
        if st is not None:
            st["f0"] = time.perf_counter()

    @event.listens_for(Session, "after_flush_postexec")
    def _flush1(session, *_):
        st = state.get(getcurrent())
        if st is not None and "f0" in st:
            comp = st.setdefault("comp", defaultdict(float))
            comp["ORM flushes (inside the above)"] += time.perf_counter() - st.pop("f0")

    def wrapped(environ, start_response):
        me = getcurrent()
        st = state[me] = {"t0": time.perf_counter(), "cpu0": time.thread_time()}
        is_bid = environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").endswith("/bids")
        try:
            body = b"".join(app(environ, start_response))
        finally:
            t1 = time.perf_counter()
            state.pop(me, None)
            stats["requests"] += 1
            if is_bid:
                stats["bid_requests"] += 1
                stats["request_ms"].append((t1 - st["t0"]) * 1000)
                # this thread's CPU during the request: the request's own only when it is alone
                stats["request_thread_cpu_ms"].append((time.thread_time() - st["cpu0"]) * 1000)
                if "lock_released" in st:
                    stats["after_lock_ms"].append((t1 - st["lock_released"]) * 1000)
                for name, v in st.get("comp", {}).items():
                    stats["components"][name] += v * 1000
            changed[0] += 1
        return [body]

    return wrapped


def diagnosis_report(diag: Path) -> dict:
    import io
    import pstats

    gc_pauses: list = []
    merged: dict = {"components": Counter(), "psycopg_wait": set(), "db_connects": 0, "requests": 0,
                    "bid_requests": 0, "stmt": Counter(), "stmt_in_lock": Counter(),
                    "stmt_ms": Counter(), "stmt_in_lock_ms": Counter()}
    lists = defaultdict(list)
    profs = []
    for f in sorted(diag.glob("diag-*.json")):
        d = json.loads(f.read_text())
        merged["psycopg_wait"].add(d.get("psycopg_wait"))
        merged["requests"] += d["requests"]
        merged["db_connects"] += d.get("db_connects", 0)
        gc_pauses.extend([f.stem.split("-")[1], *p] for p in d.get("gc_pauses", []))
        merged["bid_requests"] += d["bid_requests"]
        for k in ("request_ms", "request_thread_cpu_ms", "before_lock_ms", "lock_wait_ms", "lock_ms", "lock_sql_ms",
                  "lock_commit_ms", "lock_stmt_count", "commit_ms", "after_lock_ms"):
            lists[k].extend(d[k])
        for name, v in d["components"].items():
            merged["components"][name] += v
        for lab, (n, s) in d["stmt"].items():
            merged["stmt"][lab] += n
            merged["stmt_ms"][lab] += s * 1000
        for lab, (n, s) in d["stmt_in_lock"].items():
            merged["stmt_in_lock"][lab] += n
            merged["stmt_in_lock_ms"][lab] += s * 1000
        p = f.with_suffix(".prof")
        if p.exists():
            profs.append(str(p))
    n_bid = max(1, merged["bid_requests"])
    def mean(k: str) -> float:
        return sum(lists[k]) / max(1, len(lists[k]))

    report = {"lock_held_mean_ms": {
                  "held": round(mean("lock_ms"), 2), "sql_statements": round(mean("lock_sql_ms"), 2),
                  "statements": round(mean("lock_stmt_count"), 1), "commit": round(mean("lock_commit_ms"), 2),
                  "python_and_waiting_for_cpu": round(
                      mean("lock_ms") - mean("lock_sql_ms") - mean("lock_commit_ms"), 2)},
              "request_mean_ms": {"before_lock": round(mean("before_lock_ms"), 2),
                                  "lock_wait": round(mean("lock_wait_ms"), 2),
                                  "lock_held": round(mean("lock_ms"), 2), "after_lock": round(mean("after_lock_ms"), 2),
                                  "total": round(mean("request_ms"), 2),
                                  "worker_thread_cpu": round(mean("request_thread_cpu_ms"), 2)},
              "parts_mean_ms": {name: round(v / max(1, merged["bid_requests"]), 3)
                                for name, v in sorted(merged["components"].items())},
              "gc_pauses_ge_1ms": {"count": len(gc_pauses), "total_ms": round(sum(p[3] for p in gc_pauses), 1),
                                   "max_ms": max((p[3] for p in gc_pauses), default=0),
                                   "gen2": [p for p in gc_pauses if p[2] == 2]},
              "psycopg_wait": sorted(merged["psycopg_wait"]), "db_connects": merged["db_connects"],
              "bid_requests": merged["bid_requests"], "requests": merged["requests"],
              **{k: summary(v) for k, v in lists.items()},
              "per_bid_request_statements": {lab: {"n": round(merged["stmt"][lab] / n_bid, 2),
                                                   "ms": round(merged["stmt_ms"][lab] / n_bid, 3)}
                                             for lab, _ in merged["stmt_ms"].most_common(25)},
              "per_lock_statements": {lab: {"n": round(merged["stmt_in_lock"][lab] / max(1, len(lists["lock_ms"])), 2),
                                            "mean_ms": round(merged["stmt_in_lock_ms"][lab] /
                                                             max(1, merged["stmt_in_lock"][lab]), 3)}
                                      for lab, _ in merged["stmt_in_lock_ms"].most_common(25)}}
    if profs:
        buf = io.StringIO()
        st = pstats.Stats(profs[0], stream=buf)
        for p in profs[1:]:
            st.add(p)
        st.sort_stats("tottime").print_stats(25)
        report["profile_tottime_top"] = buf.getvalue()
        buf = io.StringIO()
        st.stream = buf
        st.sort_stats("cumulative").print_stats(45)
        report["profile_cumulative_top"] = buf.getvalue()
    return report


# --- main ------------------------------------------------------------------------------------------------


def without_gc(coro_fn, *args, **kwargs):
    """Run a client phase with the cyclic GC off (a full collection over the records stalls the
    event loop for tens of ms, which would show as server latency); memory stays bounded."""
    import gc

    gc.collect()
    gc.disable()
    try:
        return asyncio.run(coro_fn(*args, **kwargs))
    finally:
        gc.enable()


def main() -> None:  # noqa: C901, PLR0912, PLR0915 - one linear script
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    default_workers = int(os.environ.get("WEB_WORKERS", os.cpu_count() or 1))  # gunicorn.conf.py's formula
    ap.add_argument("--workers", default=str(default_workers),
                    help="gunicorn (gevent) workers; a comma-separated list runs the hot lot once per count, "
                         "the first is the headline and serves the peak")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10, help="measured seconds of each hot-lot run")
    ap.add_argument("--warmup", type=float, default=2, help="seconds before the measure (same load, not counted)")
    ap.add_argument("--strategies", default="clock,next", help="how hot-lot clients pick amounts (clock, next, spread)")
    ap.add_argument("--peak-lots", type=int, default=1000)
    ap.add_argument("--peak-rate", type=float, default=200, help="bids/s spread over the peak lots")
    ap.add_argument("--hot-rate", type=float, default=20, help="bids/s on one of the peak lots")
    ap.add_argument("--peak-seconds", type=float, default=30)
    ap.add_argument("--peak-warmup", type=float, default=5, help="seconds of the same load before the measure")
    ap.add_argument("--peak-bidders", type=int, default=100, help="bidders in the peak (the hot lot has them all)")
    ap.add_argument("--per-lot", type=int, default=8, help="bidders registered on each ordinary peak lot")
    ap.add_argument("--max-conns", type=int, default=48,
                    help="peak client connections at most (each busy one holds a database connection in a worker: "
                         "PostgreSQL's max_connections is shared); beyond it requests wait in the client, and "
                         "their latency still counts from the scheduled time")
    ap.add_argument("--build-procs", type=int, default=2)
    ap.add_argument("--skip-peak", action="store_true")
    ap.add_argument("--skip-hot", action="store_true", help="no hot-lot runs over HTTP (the bare one still runs)")
    ap.add_argument("--diagnose", action="store_true", help="instrumented app (timers): explains, never quotes")
    ap.add_argument("--profile", action="store_true", help="with --diagnose: cProfile in every worker as well")
    ap.add_argument("--pool", default=None, metavar="SIZE,OVERFLOW",
                    help="experiment, with --diagnose: each worker's connection pool instead of core.db's 10,20")
    ap.add_argument("--gunicorn-args", default="",
                    help="experiment: extra gunicorn options after the production config, e.g. '--reuse-port'")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--build-child", nargs=4, metavar=("URL", "COUNT", "OUT", "TAG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_child:
        url, count, out, tag = args.build_child
        build_child(url, int(count), out, tag)
        return
    if not args.url.startswith("postgresql"):
        sys.exit("bids.py needs PostgreSQL (--url postgresql://…)")
    workers_list = [int(w) for w in str(args.workers).split(",") if w.strip()]
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not workers_list or min(workers_list) < 1 or args.clients < 1 or args.seconds <= 0:
        sys.exit("--workers, --clients and --seconds must be positive")
    if set(strategies) - {"clock", "next", "spread"} or not strategies:
        sys.exit("--strategies: clock, next, spread")
    if args.pool and not args.diagnose:
        sys.exit("--pool is an experiment of the instrumented app: add --diagnose")

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    os.environ["TEST_DATABASE_URL"] = args.url
    from core.db import make_engine
    from tests.conftest import new_database

    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bids-"))
    (tmp / "logs").mkdir()
    url, drop = new_database(tmp)
    db_name = url.rsplit("/", 1)[1]
    engine = make_engine(url)
    server: Gunicorn | None = None
    rng = random.Random(args.seed)
    try:
        machine = versions(engine)
        print(f"machine: {machine}")
        print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
        if max(machine["loadavg_at_start"][0], 0) > 0.5:
            print(f"note: load average {machine['loadavg_at_start']} at start: other work shares this machine")

        # -- build ----------------------------------------------------------------------------------
        hot_runs = [] if args.skip_hot else [(w, s) for w in workers_list for s in strategies]
        peak_lots = 0 if args.skip_peak else args.peak_lots
        t0 = time.time()
        ids = build_rounds(url, engine, len(hot_runs) + 1 + peak_lots, args.build_procs, tmp)
        built_rounds = time.time() - t0
        hot_ids, bare_id, peak_ids = ids[:len(hot_runs)], ids[len(hot_runs)], ids[len(hot_runs) + 1:]
        t1 = time.time()
        bidders = make_bidders(engine, max(args.clients, 0 if args.skip_peak else args.peak_bidders))
        hot_bidders = bidders[:args.clients]
        pairs = [(rid, b["user_id"]) for rid in [*hot_ids, bare_id] for b in hot_bidders]
        peak_hot = peak_ids[0] if peak_ids else None
        peak_bidders = {}
        for rid in peak_ids:
            chosen = bidders if rid == peak_hot else rng.sample(bidders, min(args.per_lot, len(bidders)))
            peak_bidders[rid] = chosen
            pairs.extend((rid, b["user_id"]) for b in chosen)
        regs = register(engine, pairs)
        terms_of = round_terms(engine, ids)
        print(f"database {db_name}: {len(ids)} rounds in bidding built through the services in {built_rounds:.1f} s "
              f"({args.build_procs} processes); {len(bidders)} bidders with tokens and {len(regs)} registrations with "
              f"held deposits in {time.time() - t1:.1f} s; starting price {terms_of[ids[0]]['start']}, increment "
              f"{terms_of[ids[0]]['inc']}, ends {terms_of[ids[0]]['end_at']:%Y-%m-%d %H:%M} UTC")

        # -- bare -----------------------------------------------------------------------------------
        meter = CpuMeter(db_name, [])
        bare = bare_phase(url, round_id=bare_id, regs=[regs[(bare_id, b["user_id"])] for b in hot_bidders],
                          start=terms_of[bare_id]["start"], inc=terms_of[bare_id]["inc"], warmup=args.warmup,
                          seconds=args.seconds, meter=meter)
        print(f"bare single-row transaction, {args.clients} threads × own connection, {args.seconds:g} s: "
              f"{bare['bids_per_s']} bids/s, latency {bare['latency_ms']} ms, errors {bare['errors']}, "
              f"sequence anomalies {bare['sequence_anomalies']}; CPU {bare['cpu']}")

        # -- hot lot over HTTP ----------------------------------------------------------------------------
        runs = []
        anomalies = 0
        diag_dir = None
        peak = None
        for w in dict.fromkeys(workers_list):
            diag_dir = (tmp / f"diag-w{w}") if args.diagnose else None
            if diag_dir:
                diag_dir.mkdir()
            port = free_port()
            server = Gunicorn(db_url=url, instance=tmp / "instance", port=port, workers=w,
                              log=tmp / "logs" / f"gunicorn-w{w}.log", diagnose=diag_dir, profile=args.profile,
                              extra=shlex.split(args.gunicorn_args), pool=args.pool)
            boot = server.wait_ready(f"/api/v1/rounds/{ids[0]}/book")
            wpids = server.worker_pids()
            print(f"gunicorn: {' '.join(server.cmd[1:])} on 127.0.0.1:{port}; {len(wpids)} workers answering "
                  f"after {boot:.1f} s")
            for (ww, strategy), rid in zip(hot_runs, hot_ids, strict=True):
                if ww != w:
                    continue
                run = without_gc(hot_clients, port, round_id=rid, bidders=hot_bidders,
                                 start=terms_of[rid]["start"], inc=terms_of[rid]["inc"], strategy=strategy,
                                 warmup=args.warmup, seconds=args.seconds, meter=CpuMeter(db_name, wpids))
                fig = hot_figures(run, args.seconds)
                for r in run["records"]:
                    r["round"] = rid
                user_of = {i: b["user_id"] for i, b in enumerate(hot_bidders)}
                aud = audit(engine, round_ids=[rid], original=terms_of, records=run["records"], reg_of=regs,
                            user_of_record=lambda r, u=user_of: u[r["i"]])
                anomalies += aud["anomalies"]
                row = {"workers": w, "strategy": strategy, "round": rid, **fig, "cpu": run["cpu"], "audit": aud,
                       "connections_per_worker": run["connections_per_worker"],
                       "ratio": round(fig["accepted_per_s"] / bare["bids_per_s"], 3) if bare["bids_per_s"] else None}
                runs.append(row)
                print(f"hot lot over HTTP, {w} workers, {args.clients} clients, amounts '{strategy}', "
                      f"{args.seconds:g} s: {fig['accepted_per_s']} accepted bids/s (ratio to bare {row['ratio']}), "
                      f"{fig['requests_per_s']} requests/s, acceptance {fig['acceptance']}, errors {fig['errors']} "
                      f"{fig['error_kinds'] or ''}; latency all {fig['latency_ms']} ms; accepted "
                      f"{fig['accepted_latency_ms']} ms; connections per worker {run['connections_per_worker']}; "
                      f"CPU {run['cpu']}")
                print(f"  audit: {aud['acknowledged']} acknowledged, {aud['bids_in_db']} in the database, "
                      f"{aud['unanswered']} unanswered, anomalies {aud['anomalies']} {aud['by_kind'] or ''}"
                      + "".join(f"\n    {e}" for e in aud["examples"]))
            if w == workers_list[0] and peak_ids:
                lots = {rid: {"start": terms_of[rid]["start"], "inc": terms_of[rid]["inc"],
                              "bidders": peak_bidders[rid]} for rid in peak_ids}
                run = without_gc(peak_clients, port, lots=lots, hot_round=peak_hot, rate=args.peak_rate,
                                 hot_rate=args.hot_rate, warmup=args.peak_warmup, seconds=args.peak_seconds,
                                 max_conns=args.max_conns,
                                 seed=args.seed, meter=CpuMeter(db_name, wpids))
                peak = peak_figures(run, args.peak_seconds)
                aud = audit(engine, round_ids=peak_ids, original=terms_of, records=run["records"], reg_of=regs,
                            user_of_record=lambda r: r["user"])
                anomalies += aud["anomalies"]
                peak.update({"workers": w, "lots": len(peak_ids), "cpu": run["cpu"], "audit": aud})
                print(f"realistic peak, {w} workers: {len(peak_ids)} open lots, {args.peak_rate:g} bids/s spread + "
                      f"{args.hot_rate:g} bids/s on one, open loop, {args.peak_seconds:g} s after "
                      f"{args.peak_warmup:g} s: sent "
                      f"{peak['rate']} bids/s, answered {peak['answered_per_s']}/s within the {args.peak_seconds:g} s "
                      f"({peak['accepted']} accepted, {peak['refused']} refused as outbid, "
                      f"{peak['errors']} errors {peak['error_kinds'] or ''}); latency from the scheduled time "
                      f"{peak['latency_ms']} ms; hot lot {peak['hot_lot_latency_ms']} ms; client send lag "
                      f"{peak['send_lag_ms']} ms, its event-loop lag {peak['client_loop_lag_ms']} ms; "
                      f"{peak['connections_opened']} connections "
                      f"(per worker {peak['connections_per_worker']}), "
                      f"{peak['retried_on_closed_connection']} requests re-sent on a new one; CPU {run['cpu']}")
                print(f"  p99 ms of the bids scheduled in each second: {peak['p99_ms_by_second']}")
                print(f"  audit: {aud['acknowledged']} acknowledged, {aud['bids_in_db']} in the database, "
                      f"anomalies {aud['anomalies']} {aud['by_kind'] or ''}"
                      + "".join(f"\n    {e}" for e in aud["examples"]))
            if diag_dir:
                time.sleep(2.5)  # the workers' last dump
            server.stop()
            server = None
            if diag_dir:
                rep = diagnosis_report(diag_dir)
                for key in ("profile_tottime_top", "profile_cumulative_top"):
                    text_block = rep.pop(key, None)
                    if text_block:
                        (tmp / f"{key}-w{w}.txt").write_text(text_block)
                (tmp / f"diagnosis-w{w}.json").write_text(json.dumps(rep, ensure_ascii=False, indent=1))
                print(f"diagnosis, {w} workers (every bid this server answered, all its runs): lock held, mean "
                      f"{rep['lock_held_mean_ms']} ms; bid request, mean {rep['request_mean_ms']} ms; new database "
                      f"connections {rep['db_connects']}; psycopg waits with {rep['psycopg_wait']}; GC pauses ≥ 1 ms: "
                      f"{ {k: v for k, v in rep['gc_pauses_ge_1ms'].items() if k != 'gen2'} } "
                      f"(full collections: {len(rep['gc_pauses_ge_1ms']['gen2'])}); full: "
                      f"{tmp / f'diagnosis-w{w}.json'}")
                print(f"  parts of a bid request, mean wall ms: {rep['parts_mean_ms']}")
                if peak is not None and rep["gc_pauses_ge_1ms"]["gen2"]:
                    print("  full GC collections during the peak (second of the peak, worker, ms): " + ", ".join(
                        f"{int(ts - peak['t0_wall'])} s {pid} {ms}"
                        for pid, ts, _gen, ms in rep["gc_pauses_ge_1ms"]["gen2"]
                        if 0 <= ts - peak["t0_wall"] <= args.peak_seconds + 30))
                print("  SQL per bid request (count, client-side ms): " + "; ".join(
                    f"{lab} ×{v['n']} {v['ms']}" for lab, v in rep["per_bid_request_statements"].items()
                    if v["n"] >= 0.05))
                if args.profile:
                    print(f"  cProfile: {tmp}/profile_*-w{w}.txt")

        # -- the whole ledger ---------------------------------------------------------------------------------
        from sqlalchemy.orm import Session

        from core.audit import verify

        with Session(engine) as s:
            problems = verify(s)
        anomalies += len(problems)
        print(f"ledger verify: {'ok' if not problems else [str(p) for p in problems[:5]]}")

        empty = {"accepted_per_s": None, "ratio": None, "latency_ms": {}, "accepted_latency_ms": {},
                 "requests_per_s": None, "acceptance": None, "workers": workers_list[0], "strategy": None}
        head = runs[0] if runs else empty  # --skip-hot: no hot-lot figures
        result = {
            "hot_http_bids_per_s": head["accepted_per_s"], "bare_bids_per_s": bare["bids_per_s"],
            "ratio": head["ratio"], "p50_ms": head["latency_ms"].get("p50"), "p99_ms": head["latency_ms"].get("p99"),
            "accepted_p50_ms": head["accepted_latency_ms"].get("p50"),
            "accepted_p99_ms": head["accepted_latency_ms"].get("p99"),
            "http_requests_per_s": head["requests_per_s"], "acceptance": head["acceptance"],
            "workers": head["workers"], "strategy": head["strategy"], "clients": args.clients, "seconds": args.seconds,
            "anomalies": anomalies, "ledger_problems": len(problems),
            "runs": [{k: r[k] for k in RUN_KEYS} | {"p50_ms": r["latency_ms"].get("p50"),
                                                    "p99_ms": r["latency_ms"].get("p99"),
                                                    "anomalies": r["audit"]["anomalies"], "cpu": r["cpu"]}
                     for r in runs],
            "bare": {"bids_per_s": bare["bids_per_s"], "p50_ms": bare["latency_ms"].get("p50"),
                     "p99_ms": bare["latency_ms"].get("p99"), "errors": sum(bare["errors"].values()),
                     "sequence_anomalies": bare["sequence_anomalies"], "cpu": bare["cpu"]},
            "peak": None if peak is None else {
                "rate": peak["rate"], "answered_per_s": peak["answered_per_s"],
                "target_rate": args.peak_rate + args.hot_rate, "lots": peak["lots"],
                "workers": peak["workers"], "p50_ms": peak["latency_ms"].get("p50"),
                "p95_ms": peak["latency_ms"].get("p95"), "p99_ms": peak["latency_ms"].get("p99"),
                "max_ms": peak["latency_ms"].get("max"), "hot_p99_ms": peak["hot_lot_latency_ms"].get("p99"),
                "errors": peak["errors"], "refused": peak["refused"], "accepted": peak["accepted"],
                "anomalies": peak["audit"]["anomalies"], "cpu": peak["cpu"]},
            "targets": {"ratio": TARGET_RATIO, "peak_p99_ms": TARGET_PEAK_P99_MS},
            "met": {"ratio": None if head["ratio"] is None else head["ratio"] >= TARGET_RATIO,
                    "peak_p99": None if peak is None else (peak["latency_ms"].get("p99") or 1e9) <= TARGET_PEAK_P99_MS,
                    "anomalies": anomalies == 0},
            "machine": machine, "diagnose": args.diagnose, "experiments": {"gunicorn_args": args.gunicorn_args,
                                                                           "pool": args.pool},
            "total_s": round(time.time() - started, 1),
        }
    finally:
        if server is not None:
            server.stop()
        engine.dispose()
        drop()
    print(f"logs: {tmp / 'logs'}; total {time.time() - started:.0f} s")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
