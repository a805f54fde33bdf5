"""Live updates: one bid fanned out to 2,000 Server-Sent-Events watchers of one lot.

Target (DESIGN.md §6): a new bid reaches 2,000 connected watchers, p99 ≤ 250 ms. PostgreSQL
only (the events travel by ``pg_notify`` at commit to one listener per web process, see
``bidding/live.py`` and docs/decisions/0010-live-updates.md).

What it does:

1. creates its own database (dropped at the end, also on failure or Ctrl-C) and builds one
   round in bidding through the auction services, with ``bench/close.py``'s ``build`` (ends
   tomorrow, three registrations with held deposits; the bids alternate two of them);
2. serves the app with the production settings: ``gunicorn -c gunicorn.conf.py wsgi:app``
   (gevent workers, ``--workers``), ``ENV=production``, bound to a free 127.0.0.1 port;
3. opens N SSE streams (``GET /bidding/rounds/<id>/events``, ``Accept: text/event-stream``)
   from ``--client-procs`` child processes, each a raw asyncio client (``open_connection``,
   hand-written HTTP/1.1, chunked decoding and ``id:``/``event:``/``data:`` parsing), in
   batches (a stream counts as connected when its snapshot ``state`` event has arrived, so
   its subscription exists);
4. places K bids through ``bidding.services.place_bid`` from this process (one every
   ``--interval`` s, valid amounts, alternating bidders) and stamps ``time.time()`` right
   after the commit returned (the NOTIFY is delivered at commit); every watcher stamps
   ``time.time()`` once it has parsed the ``bid`` event with that ``seq``.

Latency = watcher's stamp − commit stamp (one machine, one clock). It is split with the
``now_ms`` each event carries (the server's clock when that stream formatted it, ms precision):
*server* = ``now_ms`` − commit (NOTIFY, listener, hub fan-out, the stream's greenlet being
scheduled), *client* = stamp − ``now_ms`` (socket write, kernel, the client's event loop and
parsing). The clients also sample their own event-loop lag (a 10 ms sleep's overshoot), and the
CPU seconds each process used during the bids are read from ``/proc``, so a slow Python client
on the same 2 cores is told apart from a slow server. Streams are mapped to gunicorn workers
(``/proc/net/tcp`` inodes against each worker's fds) for per-worker figures.

Prints figures; the last line is one JSON object. Usage:

    .venv/bin/python bench/live.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
        [--watchers 2000] [--bids 30] [--interval 0.5] [--workers 2] [--client-procs 2]
        [--batch 100] [--drain 10] [--settle 5]
    .venv/bin/python bench/live.py --http-bids 200  # meanwhile 200 bids/s over HTTP on another round
    .venv/bin/python bench/live.py --gc-log      # diagnosis: also each worker's GC pauses ≥ 1 ms
    .venv/bin/python bench/live.py --gc-freeze   # experiment: gc.freeze() once the app is loaded

``--gc-log``/``--gc-freeze`` run gunicorn with a generated config that executes
``gunicorn.conf.py`` and adds the hooks; without them it is ``-c gunicorn.conf.py`` itself.
Other work on the machine moves every figure: the CPU line reports how much of the machine
was busy during the bids and how much of that was not this benchmark.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import GunicornServer, server_env  # noqa: E402

TARGET_P99_MS = 250.0
LAG_PERIOD = 0.010
CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_nofile() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit (here and, as preexec_fn, in gunicorn)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of a sorted list."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, math.ceil(p * len(values)) - 1))]


def summary(values: list[float], nd: int = 1) -> dict:
    v = sorted(values)
    if not v:
        return {"n": 0}
    return {"n": len(v), "min": round(v[0], nd), "p50": round(pct(v, 0.5), nd), "p90": round(pct(v, 0.9), nd),
            "p99": round(pct(v, 0.99), nd), "max": round(v[-1], nd)}


# --- the SSE client (child process) ------------------------------------------------------------------


class Watcher:
    """One stream: raw HTTP/1.1, chunked transfer decoding, SSE parsing, arrival stamps."""

    __slots__ = ("idx", "port", "arrivals", "server_ms", "amounts", "ready", "ok", "error", "eof",
                 "connect_s", "writer", "task", "complete", "bids")

    def __init__(self, idx: int, bids: int):
        self.idx = idx
        self.bids = bids
        self.port = None
        self.arrivals: dict[int, float] = {}
        self.server_ms: dict[int, int] = {}
        self.amounts: dict[int, str] = {}
        self.ready = asyncio.Event()
        self.complete = asyncio.Event()
        self.ok = False
        self.error: str | None = None
        self.eof = False
        self.connect_s: float | None = None
        self.writer = None
        self.task = None

    def on_event(self, block: bytes) -> None:
        kind = ident = None
        data: list[bytes] = []
        for line in block.split(b"\n"):
            if not line or line[:1] == b":":
                continue
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"event":
                kind = value
            elif name == b"data":
                data.append(value)
            elif name == b"id":
                ident = value
        if kind == b"bid":
            d = json.loads(b"\n".join(data))
            seq = int(d["seq"])
            if seq not in self.arrivals:
                self.arrivals[seq] = time.time()
                self.server_ms[seq] = d.get("now_ms")
                self.amounts[seq] = d.get("amount")
                if ident is not None and ident != str(seq).encode():
                    self.error = f"bid event id {ident!r} is not its seq {seq}"
                if len(self.arrivals) >= self.bids:
                    self.complete.set()
        elif kind in (b"state", b"close") and not self.ready.is_set():
            self.ok = kind == b"state"
            self.ready.set()

    async def run(self, host: str, port: int, request: bytes) -> None:
        t0 = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        except OSError as exc:
            self.error = f"connect: {type(exc).__name__}"
            self.ready.set()
            return
        self.writer = writer
        self.port = writer.get_extra_info("sockname")[1]
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            if status != b"200":
                self.error = f"HTTP {status.decode()}"
                return
            chunked = b"transfer-encoding: chunked" in head.lower()
            raw = bytearray()
            body = bytearray()
            while True:
                data = await reader.read(65536)
                if not data:
                    self.eof = True
                    return
                if chunked:
                    raw += data
                    while True:
                        j = raw.find(b"\r\n")
                        if j < 0:
                            break
                        size = int(bytes(raw[:j]).split(b";", 1)[0], 16)
                        if size == 0:
                            self.eof = True
                            return
                        if len(raw) < j + 2 + size + 2:
                            break
                        body += raw[j + 2:j + 2 + size]
                        del raw[:j + 2 + size + 2]
                else:
                    body += data
                while True:
                    i = body.find(b"\n\n")
                    if i < 0:
                        break
                    block = bytes(body[:i])
                    del body[:i + 2]
                    self.on_event(block)
                    if self.connect_s is None and self.ready.is_set():
                        self.connect_s = time.monotonic() - t0
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            if self.error is None:
                self.error = f"read: {type(exc).__name__}"
        finally:
            self.ready.set()
            self.complete.set()


async def client_main(host: str, port: int, path: str, count: int, batch: int, bids: int, out: str,
                      connect_timeout: float) -> None:
    loop = asyncio.get_running_loop()
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
               f"Cache-Control: no-cache\r\nUser-Agent: bench-live\r\n\r\n").encode()
    lags: list[tuple[float, float]] = []
    stop_lag = asyncio.Event()

    async def sample_lag():
        while not stop_lag.is_set():
            t = loop.time()
            await asyncio.sleep(LAG_PERIOD)
            lags.append((time.time(), loop.time() - t - LAG_PERIOD))

    lag_task = asyncio.create_task(sample_lag())
    watchers = [Watcher(i, bids) for i in range(count)]
    t0 = time.time()
    for start in range(0, count, batch):
        group = watchers[start:start + batch]
        for w in group:
            w.task = asyncio.create_task(w.run(host, port, request))
        try:
            await asyncio.wait_for(asyncio.gather(*(w.ready.wait() for w in group)), connect_timeout)
        except TimeoutError:
            for w in group:
                if not w.ready.is_set():
                    w.error = "timeout waiting for the snapshot"
    connect_wall = time.time() - t0
    connected = [w for w in watchers if w.ok and w.error is None]
    print(json.dumps({"ready": True, "connected": len(connected), "connect_wall_s": round(connect_wall, 3),
                      "connect_s": [round(w.connect_s, 4) for w in connected if w.connect_s is not None],
                      "errors": dict(Counter(w.error for w in watchers if w.error))}), flush=True)

    # Commands from the parent on stdin: "finish <deadline epoch>".
    line = await loop.run_in_executor(None, sys.stdin.readline)
    deadline = float(line.split()[1]) if line.startswith("finish") else time.time()
    remaining = max(0.0, deadline - time.time())
    try:
        await asyncio.wait_for(asyncio.gather(*(w.complete.wait() for w in connected)), remaining)
    except TimeoutError:
        pass
    stop_lag.set()
    for w in watchers:
        if w.writer is not None:
            w.writer.close()
        if w.task is not None:
            w.task.cancel()
    await asyncio.gather(*(w.task for w in watchers if w.task is not None), return_exceptions=True)
    await lag_task
    ru = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "watchers": [{"port": w.port, "ok": w.ok, "error": w.error, "eof": w.eof,
                      "arrivals": {str(k): v for k, v in w.arrivals.items()},
                      "server_ms": {str(k): v for k, v in w.server_ms.items()},
                      "amounts": dict(Counter(f"{k}={v}" for k, v in w.amounts.items()))}
                     for w in watchers],
        "lags": lags, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss,
    }
    Path(out).write_text(json.dumps(result))
    print(json.dumps({"done": True}), flush=True)


def client(argv: list[str]) -> None:
    host, port, path, count, batch, bids, out, timeout = argv
    raise_nofile()
    asyncio.run(client_main(host, int(port), path, int(count), int(batch), int(bids), out, float(timeout)))


class ClientProc:
    def __init__(self, name: str, args: list[str], log_dir: Path):
        self.name = name
        self.log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, __file__, "--client", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, cwd=ROOT, text=True)
        self.ready: dict | None = None

    def read_json(self, timeout: float) -> dict:
        box: list = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        if not box or not box[0]:
            raise RuntimeError(f"client {self.name} did not answer (see its log)")
        return json.loads(box[0])

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --- the server ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GC_CONF = """# bench/live.py --gc-log: the production settings, plus a log of each worker's GC pauses.
import gc as _gc, json as _json, os as _os, time as _time
exec(compile(open({conf!r}).read(), {conf!r}, "exec"))
_previous_post_fork = globals().get("post_fork")


def post_fork(server, worker):
    if _previous_post_fork is not None:
        _previous_post_fork(server, worker)
    out = open({log!r} + "." + str(_os.getpid()), "a", buffering=1)
    started = [0.0]

    def pause(phase, info):
        if phase == "start":
            started[0] = _time.perf_counter()
        else:
            ms = (_time.perf_counter() - started[0]) * 1000
            if ms >= 1.0:
                out.write(_json.dumps([_time.time(), info["generation"], round(ms, 2)]) + "\\n")

    _gc.callbacks.append(pause)


if {freeze!r}:
    _previous_post_worker_init = globals().get("post_worker_init")

    def post_worker_init(worker):
        # --gc-freeze: what the app holds once loaded goes to the permanent generation, so a
        # full collection no longer walks it.
        if _previous_post_worker_init is not None:
            _previous_post_worker_init(worker)
        _gc.collect()
        _gc.freeze()
"""


def gc_pauses(log: Path, pid: int, start: float, end: float) -> dict:
    try:
        rows = [json.loads(x) for x in Path(f"{log}.{pid}").read_text().splitlines() if x]
    except OSError:
        return {}
    rows = [r for r in rows if start <= r[0] <= end]
    return {"count": len(rows), "total_ms": round(sum(r[2] for r in rows), 1),
            "max_ms": max((r[2] for r in rows), default=0), "gen2": sum(1 for r in rows if r[1] == 2),
            "gen2_max_ms": max((r[2] for r in rows if r[1] == 2), default=0)}


class Gunicorn(GunicornServer):
    def __init__(self, *, db_url: str, instance: Path, port: int, workers: int, log: Path,
                 gc_log: Path | None = None, gc_freeze: bool = False):
        env = server_env(db_url=db_url, instance=instance, port=port, workers=workers, secret="bench-live-secret")
        conf = "gunicorn.conf.py"
        if gc_log is not None:
            conf = str(gc_log.parent / "gunicorn-gc.conf.py")
            Path(conf).write_text(GC_CONF.format(conf=str(ROOT / "gunicorn.conf.py"), log=str(gc_log), freeze=gc_freeze))
        super().__init__(env=env, port=port, workers=workers, log=log, conf=conf, preexec_fn=raise_nofile)


def proc_status(pid: int) -> dict:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) // 1024
    except OSError:
        pass
    return out


def cpu_seconds(pid: int, part: str = "both") -> float | None:
    """User + system CPU seconds of a process (``part``: "user" or "system" for one of them)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    user, system = int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK
    return {"user": user, "system": system}.get(part, user + system)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def server_side_ports(server_port: int) -> dict[int, int]:
    """Client port → inode of the server's end of each connection to ``server_port``."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            local_port = int(f[1].rsplit(":", 1)[1], 16)
            remote_port = int(f[2].rsplit(":", 1)[1], 16)
            if local_port == server_port and remote_port:
                out[remote_port] = int(f[9])
    return out


# --- the round and the bids ---------------------------------------------------------------------


def build_round(engine) -> tuple[int, list[int], Decimal, Decimal]:
    """One round in bidding (ends tomorrow) with three held deposits, from ``bench/close.py``.
    Returns the round, the users of two registrations, the starting price and the increment."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from auction.models import Round
    from bidding.models import Registration
    from close import build

    expected = build(engine, count=1, bids=0, rng=random.Random(7))
    rid = expected[0]["id"]
    with Session(engine) as s:
        rnd = s.get(Round, rid)
        users = s.scalars(select(Registration.user_id).where(Registration.round_id == rid,
                                                             Registration.qualified_at.is_not(None))
                          .order_by(Registration.id)).all()
        return rid, list(users[:2]), rnd.starting_price, rnd.increment


def http_load_round(engine) -> dict:
    """A second round for ``--http-bids``, with API tokens for two qualified bidders."""
    from datetime import datetime, timezone

    from sqlalchemy.orm import Session

    from accounts.models import User
    from accounts.services import issue_api_token

    rid, users, start, step = build_round(engine)
    with Session(engine, expire_on_commit=False) as s:
        tokens = [issue_api_token(s, user=s.get(User, u), name="bench-live", now=datetime.now(timezone.utc))
                  for u in users]
    return {"round_id": rid, "tokens": tokens, "start": start, "step": step}


class HttpLoad:
    """Bids over HTTP at a fixed rate (open loop, one keep-alive connection, two bidders taking
    turns, each amount one increment above the last accepted) in a thread of this process;
    latency from each bid's scheduled time."""

    def __init__(self, port: int, load: dict, rate: float):
        import threading

        self.port, self.load, self.rate = port, load, rate
        self.done = threading.Event()
        self.result: dict = {}
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        path = f"/api/v1/rounds/{self.load['round_id']}/bids"
        amount, lat, status = self.load["start"], [], Counter()
        t0, i = time.perf_counter(), 0
        while not self.done.is_set():
            due = t0 + i / self.rate
            if self.done.wait(max(0.0, due - time.perf_counter())):
                break
            body = json.dumps({"amount": f"{amount:.2f}", "idempotency_key": f"load-{i}"})
            conn.request("POST", path, body=body, headers={"Authorization": f"Bearer {self.load['tokens'][i % 2]}",
                                                           "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            lat.append((time.perf_counter() - due) * 1000)
            status[resp.status] += 1
            if resp.status in (200, 201):
                amount += self.load["step"]
            i += 1
        wall = time.perf_counter() - t0
        lat.sort()
        self.result = {"rate": self.rate, "sent_per_s": round(i / wall, 1) if wall else 0, "status": dict(status),
                       **{k: (round(v, 1) if v is not None else None)
                          for k, v in (("p50_ms", pct(lat, 0.5)), ("p99_ms", pct(lat, 0.99)),
                                       ("max_ms", lat[-1] if lat else None))}}

    def stop(self) -> dict:
        self.done.set()
        self.thread.join(60)
        return self.result


def place_bids(app, *, round_id: int, users: list[int], start: Decimal, step: Decimal, count: int,
               interval: float) -> list[dict]:
    from accounts.models import User
    from bidding import services
    from core.context import context_for

    from sqlalchemy import event

    factory, clock = app.extensions["session_factory"], app.extensions["clock"]
    stamps: dict[str, float] = {}
    # Bracket the DBAPI commit: ConnectionEvents.commit fires just before it, SessionEvents
    # after_commit right after it returned (before the ORM's and place_bid's own work after it).
    event.listen(app.extensions["database"].engine, "commit", lambda conn: stamps.__setitem__("before", time.time()))
    placed = []
    t0 = time.time() + 0.2
    for i in range(count):
        delay = t0 + i * interval - time.time()
        if delay > 0:
            time.sleep(delay)
        amount = start + step * i
        with factory() as session:
            event.listen(session, "after_commit", lambda s: stamps.__setitem__("after", time.time()))
            user = session.get(User, users[i % 2])
            ctx = context_for(app, session, clock.now())
            stamps.clear()
            began = time.time()
            receipt = services.place_bid(session, user=user, round_id=round_id, amount=amount,
                                         idempotency_key=f"bench-live-{i}", ctx=ctx, clock=clock)
            returned = time.time()
        committed = stamps.get("after", returned)
        placed.append({"seq": receipt.seq, "amount": str(receipt.amount), "committed": committed,
                       "commit_call_ms": (committed - stamps.get("before", committed)) * 1000,
                       "service_ms": (returned - began) * 1000})
    return placed


# --- main ----------------------------------------------------------------------------------------------


def versions(engine) -> dict:
    from importlib.metadata import version

    from sqlalchemy import text

    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), 0)
    return {"cpus": os.cpu_count(), "mem_gib": round(mem / 1024 / 1024, 1), "kernel": platform.release(),
            "python": platform.python_version(), "postgresql": pg,
            **{name: version(name) for name in ("gunicorn", "gevent", "flask", "sqlalchemy", "psycopg")},
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def analyse(placed: list[dict], results: list[dict], worker_of_port: dict[int, int]) -> dict:
    by_seq = {p["seq"]: p for p in placed}
    all_lat, all_server, all_client = [], [], []
    per_bid = []
    per_worker: dict[int, list[float]] = {}
    missed_pairs, watchers_missing, eofs, errors = 0, 0, 0, Counter()
    wrong_amounts = 0
    connected = [w for r in results for w in r["watchers"] if w["ok"]]
    for w in connected:
        if w["error"]:
            errors[w["error"]] += 1
        if w["eof"]:
            eofs += 1
        for key in w["amounts"]:
            seq, amount = key.split("=", 1)
            if int(seq) in by_seq and by_seq[int(seq)]["amount"] != amount:
                wrong_amounts += 1
    for p in placed:
        seq, committed = p["seq"], p["committed"]
        lat, server, client_part = [], [], []
        for w in connected:
            got = w["arrivals"].get(str(seq))
            if got is None:
                missed_pairs += 1
                continue
            ms = (got - committed) * 1000
            lat.append(ms)
            sms = w["server_ms"].get(str(seq))
            if sms is not None:
                server.append(sms - committed * 1000)
                client_part.append(got * 1000 - sms)
            worker = worker_of_port.get(w["port"])
            per_worker.setdefault(worker, []).append(ms)
        lat.sort()
        per_bid.append({"seq": seq, "got": len(lat), "min_ms": round(lat[0], 1) if lat else None,
                        "p50_ms": round(pct(lat, 0.5), 1) if lat else None,
                        "p99_ms": round(pct(lat, 0.99), 1) if lat else None,
                        "max_ms": round(lat[-1], 1) if lat else None,
                        "server_first_ms": round(min(server), 1) if server else None,
                        "server_max_ms": round(max(server), 1) if server else None,
                        "service_ms": round(p["service_ms"], 1), "commit_call_ms": round(p["commit_call_ms"], 1)})
        all_lat += lat
        all_server += server
        all_client += client_part
    for w in connected:
        if any(str(p["seq"]) not in w["arrivals"] for p in placed):
            watchers_missing += 1
    # Per worker and bid, from the now_ms stamps: the first stream's (commit → NOTIFY → listener →
    # first greenlet) and the spread to the last one (the worker formatting and writing to each).
    first, spread = [], []
    for worker in {worker_of_port.get(w["port"]) for w in connected}:
        mine = [w for w in connected if worker_of_port.get(w["port"]) == worker]
        for p in placed:
            stamps = [w["server_ms"][str(p["seq"])] for w in mine if w["server_ms"].get(str(p["seq"])) is not None]
            if stamps:
                first.append(min(stamps) - p["committed"] * 1000)
                spread.append(max(stamps) - min(stamps))
    return {"connected": len(connected), "per_bid": per_bid, "overall": summary(all_lat),
            "server": summary(all_server), "client": summary(all_client),
            "first_stream": summary(first), "fanout_spread": summary(spread),
            "per_worker": {str(k): summary(v) for k, v in per_worker.items()},
            "missed": missed_pairs, "watchers_missing_some": watchers_missing, "eof_during_run": eofs,
            "stream_errors": dict(errors), "wrong_amounts": wrong_amounts}


def lag_report(results: list[dict], placed: list[dict], window: float = 1.0) -> dict:
    commits = sorted(p["committed"] for p in placed)
    all_lags, fanout_lags = [], []
    for r in results:
        for t, lag in r["lags"]:
            all_lags.append(lag * 1000)
            # a sample taken within `window` s after a commit: the loop during a fan-out
            if any(0 <= t - c <= window for c in commits):
                fanout_lags.append(lag * 1000)
    return {"all_ms": summary(all_lags), "fanout_ms": summary(fanout_lags)}


def main() -> None:  # noqa: C901, PLR0912, PLR0915 - one linear script
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--watchers", type=int, default=2000)
    ap.add_argument("--bids", type=int, default=30)
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between bids")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn (gevent) workers")
    ap.add_argument("--client-procs", type=int, default=2, help="SSE client processes")
    ap.add_argument("--batch", type=int, default=100, help="streams being opened at once, over all clients")
    ap.add_argument("--drain", type=float, default=10, help="seconds after the last bid a watcher may still miss it")
    ap.add_argument("--settle", type=float, default=5, help="seconds between the last stream opened and the first bid")
    ap.add_argument("--connect-timeout", type=float, default=60, help="seconds for one batch to get its snapshots")
    ap.add_argument("--gc-log", action="store_true",
                    help="diagnosis: log the workers' garbage-collection pauses (wraps gunicorn.conf.py)")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="experiment (implies --gc-log): gc.freeze() in each worker once the app is loaded; "
                         "NOT the production settings")
    ap.add_argument("--http-bids", type=float, default=0.0,
                    help="bids/s over HTTP (POST /api/v1/rounds/<id>/bids) on a second round during the bids: "
                         "the live events of the watched round while the same workers serve bid requests")
    ap.add_argument("--client", nargs=8, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client(args.client)
        return
    if not args.url.startswith("postgresql"):
        sys.exit("live.py needs PostgreSQL (--url postgresql://…)")
    if args.watchers < 1 or args.bids < 1 or args.client_procs < 1 or args.workers < 1:
        sys.exit("--watchers, --bids, --client-procs and --workers must be ≥ 1")

    stop_requested = False

    def on_term(*_):
        nonlocal stop_requested
        stop_requested = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    nofile = raise_nofile()
    os.environ["TEST_DATABASE_URL"] = args.url
    from core.db import make_engine
    from tests.conftest import app_config, new_database

    started = time.time()
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    (tmp / "logs").mkdir()
    instance = tmp / "instance"
    url, drop = new_database(tmp)
    engine = make_engine(url)
    server: Gunicorn | None = None
    clients: list[ClientProc] = []
    app = None
    report: dict = {}
    try:
        machine = versions(engine)
        t0 = time.time()
        round_id, users, start_price, step = build_round(engine)
        load_round = http_load_round(engine) if args.http_bids > 0 else None
        print(f"machine: {machine}")
        print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
        print(f"RLIMIT_NOFILE {nofile[0]}/{nofile[1]}; database {url.rsplit('/', 1)[1]}; round {round_id} built "
              f"in {time.time() - t0:.1f} s (start {start_price}, increment {step})")

        port = free_port()
        gc_log = tmp / "logs" / "gc" if args.gc_log or args.gc_freeze else None
        server = Gunicorn(db_url=url, instance=instance, port=port, workers=args.workers,
                          log=tmp / "logs" / "gunicorn.log", gc_log=gc_log, gc_freeze=args.gc_freeze)
        boot = server.wait_ready(f"/bidding/rounds/{round_id}/book.json")
        workers = server.worker_pids()
        print(f"gunicorn: {' '.join(server.cmd[1:])} on 127.0.0.1:{port}; {len(workers)} workers {workers} "
              f"answering after {boot:.1f} s")
        baseline_rss = {pid: proc_status(pid) for pid in workers}

        # -- open the streams ------------------------------------------------------------------------
        procs = min(args.client_procs, args.watchers)
        shares = [args.watchers // procs + (1 if i < args.watchers % procs else 0) for i in range(procs)]
        per_batch = max(1, math.ceil(args.batch / procs))
        path = f"/bidding/rounds/{round_id}/events"
        t0 = time.time()
        for i, n in enumerate(shares):
            clients.append(ClientProc(f"client{i}", ["127.0.0.1", str(port), path, str(n), str(per_batch),
                                                     str(args.bids), str(tmp / f"client{i}.json"),
                                                     str(args.connect_timeout)], tmp / "logs"))
        for c in clients:
            c.ready = c.read_json(timeout=args.connect_timeout * (args.watchers / max(1, per_batch) + 2))
        connect_wall = time.time() - t0
        connected = sum(c.ready["connected"] for c in clients)
        per_conn = sorted(x * 1000 for c in clients for x in c.ready["connect_s"])
        errors = Counter()
        for c in clients:
            errors.update(c.ready["errors"])
        print(f"connected {connected}/{args.watchers} streams from {procs} client process(es), batches of "
              f"{per_batch} per process, in {connect_wall:.1f} s ({connected / max(connect_wall, 1e-9):.0f}/s; "
              f"request → snapshot p50 {pct(per_conn, 0.5) or 0:.0f} ms, p99 {pct(per_conn, 0.99) or 0:.0f} ms, "
              f"max {per_conn[-1] if per_conn else 0:.0f} ms); errors {dict(errors) or 'none'}")

        # Streams connected, no bids: what keeping them costs (each stream's wait times out every
        # LIVE_RECONCILE_SECONDS, keep-alives every LIVE_KEEPALIVE_SECONDS).
        idle_pids = workers + [c.proc.pid for c in clients]
        idle0, t_idle = {pid: cpu_seconds(pid) for pid in idle_pids}, time.time()
        time.sleep(args.settle)
        idle_s = time.time() - t_idle
        idle_cpu = {str(pid): round(((cpu_seconds(pid) or 0) - (idle0[pid] or 0)) / idle_s, 3) for pid in idle_pids}
        print(f"idle, {connected} streams open, no bids: CPU s/s per worker "
              f"{ {k: v for k, v in idle_cpu.items() if int(k) in workers} }, per client "
              f"{ {k: v for k, v in idle_cpu.items() if int(k) not in workers} } over {idle_s:.1f} s")
        rss_connected = {pid: proc_status(pid) for pid in workers}
        worker_inodes = {pid: socket_inodes(pid) for pid in workers}
        port_inode = server_side_ports(port)
        worker_of_port = {cport: pid for cport, ino in port_inode.items()
                          for pid, inos in worker_inodes.items() if ino in inos}
        streams_per_worker = Counter(worker_of_port.values())

        # -- the bids -----------------------------------------------------------------------------------
        from core import create_app

        import logging

        logging.getLogger("weasyprint").setLevel(logging.WARNING)
        app = create_app(app_config(url, instance))
        pids = {"master": [server.proc.pid], "workers": workers, "clients": [c.proc.pid for c in clients]}
        cpu0 = {pid: cpu_seconds(pid) for group in pids.values() for pid in group}
        sys0 = {pid: cpu_seconds(pid, "system") for pid in workers}
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        busy0 = machine_busy_seconds()
        load = HttpLoad(port, load_round, args.http_bids) if load_round else None
        t_bids = time.time()
        placed = place_bids(app, round_id=round_id, users=users, start=start_price, step=step, count=args.bids,
                            interval=args.interval)
        bids_wall = time.time() - t_bids
        http_load = load.stop() if load else None
        if http_load:
            print(f"HTTP bids on round {load_round['round_id']} meanwhile: {http_load}")
        cpu1 = {pid: cpu_seconds(pid) for group in pids.values() for pid in group}
        sys1 = {pid: cpu_seconds(pid, "system") for pid in workers}
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        busy1 = machine_busy_seconds()
        print(f"placed {len(placed)} bids in {bids_wall:.1f} s (place_bid p50 "
              f"{pct(sorted(p['service_ms'] for p in placed), 0.5):.1f} ms, "
              f"max {max(p['service_ms'] for p in placed):.1f} ms)")

        def cpu_of(group: str) -> float:
            return sum((cpu1[p] or 0) - (cpu0[p] or 0) for p in pids[group])

        cpu = {"window_s": round(bids_wall, 2),
               "workers_s": {str(p): round((cpu1[p] or 0) - (cpu0[p] or 0), 2) for p in workers},
               "workers_total_s": round(cpu_of("workers"), 2),
               "workers_system_s": round(sum((sys1[p] or 0) - (sys0[p] or 0) for p in workers), 2),
               "master_s": round(cpu_of("master"), 2),
               "clients_total_s": round(cpu_of("clients"), 2),
               "bench_s": round((self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime), 2),
               "machine_busy_s": round(busy1 - busy0, 2), "machine_capacity_s": round(bids_wall * (os.cpu_count() or 1), 2)}
        # PostgreSQL and whatever else runs on the machine (other people's work moves the figures)
        cpu["rest_s"] = round(cpu["machine_busy_s"] - cpu["workers_total_s"] - cpu["master_s"] - cpu["clients_total_s"]
                              - cpu["bench_s"], 2)

        deadline = time.time() + args.drain
        for c in clients:
            c.send(f"finish {deadline}")
        for c in clients:
            c.read_json(timeout=args.drain + 60)
        results = [json.loads((tmp / f"client{i}.json").read_text()) for i in range(len(clients))]
        for c in clients:
            c.stop()
        client_cpu = [round(r["cpu_s"], 2) for r in results]
        clients = []

        a = analyse(placed, results, worker_of_port)
        lags = lag_report(results, placed)
        rss = {str(pid): {"baseline_mb": baseline_rss[pid].get("VmRSS"), "connected_mb": rss_connected[pid].get("VmRSS"),
                          "peak_mb": proc_status(pid).get("VmHWM"), "streams": streams_per_worker.get(pid, 0)}
               for pid in workers}

        # -- report -------------------------------------------------------------------------------------
        print("per bid (ms; latency = parsed by the watcher − commit; server first/max = earliest/latest now_ms − commit):")
        print("   seq   got    min    p50    p99    max  srv_first  srv_max  place_bid  COMMIT call")
        for b in a["per_bid"]:
            print(f"  {b['seq']:4d} {b['got']:5d} {b['min_ms']!s:>6} {b['p50_ms']!s:>6} {b['p99_ms']!s:>6} "
                  f"{b['max_ms']!s:>6} {b['server_first_ms']!s:>10} {b['server_max_ms']!s:>8} {b['service_ms']:>10} "
                  f"{b['commit_call_ms']:>12}")
        o, s, cl = a["overall"], a["server"], a["client"]
        print(f"overall ({o.get('n', 0)} arrivals): p50 {o.get('p50')} ms, p90 {o.get('p90')} ms, p99 {o.get('p99')} ms, "
              f"max {o.get('max')} ms (target p99 ≤ {TARGET_P99_MS:.0f} ms)")
        print(f"  server part (now_ms − commit): p50 {s.get('p50')}, p90 {s.get('p90')}, p99 {s.get('p99')}, "
              f"max {s.get('max')} ms")
        f, sp = a["first_stream"], a["fanout_spread"]
        print(f"    of which commit → first stream of a worker: p50 {f.get('p50')}, p99 {f.get('p99')}, max {f.get('max')} "
              f"ms; first → last stream of a worker: p50 {sp.get('p50')}, p99 {sp.get('p99')}, max {sp.get('max')} ms")
        print(f"  client part (parsed − now_ms): p50 {cl.get('p50')}, p90 {cl.get('p90')}, p99 {cl.get('p99')}, "
              f"max {cl.get('max')} ms")
        for pid, st in a["per_worker"].items():
            print(f"  worker {pid}: {rss.get(pid, {}).get('streams', '?')} streams, latency p50 {st.get('p50')} ms, "
                  f"p99 {st.get('p99')} ms, max {st.get('max')} ms")
        print(f"missed {a['missed']} (watcher, bid) pairs within {args.drain:.0f} s after the last bid; watchers missing "
              f"any {a['watchers_missing_some']}; streams ended early {a['eof_during_run']}; wrong amounts "
              f"{a['wrong_amounts']}; stream errors {a['stream_errors'] or 'none'}")
        print(f"client event-loop lag (10 ms sleep overshoot): all p50 {lags['all_ms'].get('p50')} ms, p99 "
              f"{lags['all_ms'].get('p99')} ms, max {lags['all_ms'].get('max')} ms; within 1 s after a commit p99 "
              f"{lags['fanout_ms'].get('p99')} ms, max {lags['fanout_ms'].get('max')} ms")
        print(f"CPU seconds during the {bids_wall:.1f} s of bids: gunicorn workers {cpu['workers_s']} "
              f"(total {cpu['workers_total_s']}, {cpu['workers_total_s'] / len(placed) * 1000:.0f} ms per bid, of which "
              f"kernel {cpu['workers_system_s']}), "
              f"master {cpu['master_s']}, clients {cpu['clients_total_s']} "
              f"({cpu['clients_total_s'] / len(placed) * 1000:.0f} ms per bid), bench (bids) {cpu['bench_s']}; "
              f"client CPU over their whole life {client_cpu}; whole machine busy {cpu['machine_busy_s']} of "
              f"{cpu['machine_capacity_s']} CPU s, of which PostgreSQL and other processes {cpu['rest_s']}; "
              f"load average now {[round(x, 2) for x in os.getloadavg()]}")
        gc_report = {}
        if gc_log is not None:
            gc_report = {str(pid): gc_pauses(gc_log, pid, t_bids, t_bids + bids_wall) for pid in workers}
            print(f"worker GC pauses ≥ 1 ms during the bids: {gc_report}")
        for pid, r in rss.items():
            print(f"gunicorn worker {pid}: RSS {r['baseline_mb']} MB idle → {r['connected_mb']} MB with "
                  f"{r['streams']} streams, peak {r['peak_mb']} MB")
        p99 = o.get("p99")
        report = {
            "watchers": args.watchers, "connected": a["connected"], "connect_s": round(connect_wall, 2),
            "bids": len(placed), "interval_s": args.interval, "workers": args.workers, "client_procs": procs,
            "p50_ms": o.get("p50"), "p90_ms": o.get("p90"), "p99_ms": p99, "max_ms": o.get("max"),
            "server_p50_ms": s.get("p50"), "server_p99_ms": s.get("p99"), "server_max_ms": s.get("max"),
            "first_stream_p50_ms": f.get("p50"), "first_stream_max_ms": f.get("max"),
            "fanout_spread_p50_ms": sp.get("p50"), "fanout_spread_max_ms": sp.get("max"),
            "client_p50_ms": cl.get("p50"), "client_p99_ms": cl.get("p99"), "client_max_ms": cl.get("max"),
            "per_bid_p99_ms": [b["p99_ms"] for b in a["per_bid"]],
            "per_bid_max_ms": [b["max_ms"] for b in a["per_bid"]],
            "missed": a["missed"], "watchers_missing_some": a["watchers_missing_some"],
            "streams_ended_early": a["eof_during_run"], "wrong_amounts": a["wrong_amounts"],
            "client_loop_lag_p99_ms": lags["all_ms"].get("p99"), "client_loop_lag_max_ms": lags["all_ms"].get("max"),
            "client_loop_lag_fanout_p99_ms": lags["fanout_ms"].get("p99"),
            "client_loop_lag_fanout_max_ms": lags["fanout_ms"].get("max"),
            "http_load": http_load,
            "cpu": cpu, "idle_cpu_s_per_s": idle_cpu, **({"gc_pauses": gc_report} if gc_report else {}), "worker_rss": rss, "per_worker": a["per_worker"],
            "target_p99_ms": TARGET_P99_MS,
            "meets_target": bool(a["connected"] == args.watchers and a["missed"] == 0 and p99 is not None
                                 and p99 <= TARGET_P99_MS),
            "machine": machine, "command": " ".join([Path(sys.executable).name, *sys.argv]),
        }
    finally:
        for c in clients:
            c.stop()
        if server is not None:
            stopped = server.stop()
            print(f"gunicorn stopped in {stopped:.1f} s")
        if app is not None:
            app.extensions["database"].dispose()
        engine.dispose()
        drop()
        print(f"logs: {tmp / 'logs'}; total {time.time() - started:.0f} s" + (" (interrupted)" if stop_requested else ""))
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
