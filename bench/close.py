"""Close precision: 200 rounds ending in the same minute, closed by the real scheduler.

Target (DESIGN.md §6): every due round closed ≤ 2 s after its end. PostgreSQL only (the close
is about locks and concurrent processes). The script creates and drops its own database, builds
the rounds through the auction services (lot, notices, publication, bidding opened) and adds a
few bids and held deposits per round with bulk inserts, then runs four scenarios, each on fresh
rounds and with fresh scheduler processes (``core.scheduler.PlatformScheduler`` on an app from
``core.create_app``, as ``flask scheduler run`` does):

* ``on_time``: one scheduler; the rounds end spread uniformly over the same minute (the
  target's case);
* ``burst``: a stress case beyond the target: half the rounds end at the same instant (courts
  like round hours), half spread over the minute;
* ``restart``: the scheduler is stopped, every round ends while it is down, it is restarted
  20 s later: all closes happen at the restart, with the outcomes the bids decide;
* ``two_schedulers``: two scheduler processes at once (one holds the advisory lock);
* ``racing_closers``: two processes calling ``bidding.services.run_due`` every 100 ms without
  any leadership, so only the close's own conditional claim keeps it exactly once.

Each scheduler is what ``flask scheduler run`` starts: the main lane (the closes) and the
documents lane (the 成交确认书 / 流拍 record PDFs filed after the close), two processes.

Two lateness figures per round: ``recorded`` = ``rounds.closed_at − end_at`` (each close is
stamped with the bid clock read under the round's lock: the database's ``clock_timestamp()``),
and ``observed`` = when this script first saw the close committed (polling every 50 ms) −
``end_at``: what a bidder experiences. ``documents_after_last_close_s``: how long after the last
close the documents lane had filed every close's document.

After each scenario: state, buyer code and price against the bids; ``round.closed`` ledger
entries and close documents per round (exactly one each). Prints figures; the last line is one
JSON object. Usage:

    .venv/bin/python bench/close.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
                                    [--rounds 200] [--bids 3]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UTC = timezone.utc
TARGET_SECONDS = 2.0
POLL_SECONDS = 0.05


# --- child processes ---------------------------------------------------------------------


def _app(db_url: str, instance: str):
    from core import create_app
    from tests.conftest import app_config

    return create_app(app_config(db_url, Path(instance)))


def child(mode: str, db_url: str, instance: str, name: str) -> None:
    """``scheduler``: the real PlatformScheduler until SIGTERM. ``racer``: ``run_due`` of the
    bidding package every 100 ms, no leadership, until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app = _app(db_url, instance)
    if os.environ.get("BENCH_STUB_PDF") == "1":
        _stub_close_documents()
    if mode in ("scheduler", "documents"):
        from core.scheduler import DOCUMENTS, MAIN, PlatformScheduler

        scheduler = PlatformScheduler(app, name=name, lane=MAIN if mode == "scheduler" else DOCUMENTS)
        scheduler.start()
        print("ready", flush=True)
        stop.wait()
        scheduler.shutdown()
        return
    from bidding import services
    from core.context import context_for

    factory, clock = app.extensions["session_factory"], app.extensions["clock"]
    print("ready", flush=True)
    while not stop.is_set():
        with factory() as session:
            services.run_due(session, context_for(app, session, clock.now()), clock=clock)
        stop.wait(0.1)


def _stub_close_documents() -> None:
    """Diagnosis only (``--stub-pdf``): the close files a fixed one-page PDF instead of laying
    out the confirmation / 流拍 record, to show how much of the lateness is WeasyPrint."""
    import hashlib

    import auction.documents as docs
    from core.pdf import RenderedPdf
    from tests.factories import pdf_bytes

    data = pdf_bytes()
    stub = RenderedPdf(data=data, sha256=hashlib.sha256(data).hexdigest(), html="")
    docs.render_confirmation = lambda *a, **k: stub
    docs.render_unsold_record = lambda *a, **k: stub


class Scheduler:
    """What ``flask scheduler run`` starts: the main lane (the closes) and the documents lane
    (the PDFs filed after them), each its own process."""

    def __init__(self, db_url: str, instance: str, name: str, log_dir: Path):
        self.main = Child("scheduler", db_url, instance, name, log_dir)
        self.documents = Child("documents", db_url, instance, name + "-documents", log_dir)
        self.started, self.ready = self.main.started, self.main.ready

    def stop(self) -> None:
        self.main.stop()
        self.documents.stop()


class Child:
    def __init__(self, mode: str, db_url: str, instance: str, name: str, log_dir: Path):
        env = {k: v for k, v in os.environ.items()
               if k not in ("RULEBOOK", "CLOCK", "DATABASE_URL", "TEST_DATABASE_URL")}
        self.name = name
        self.log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--child", mode, db_url, instance, name],
            stdout=subprocess.PIPE, stderr=self.log, cwd=ROOT, env=env)
        self.started = time.time()
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"{name} did not start; see {log_dir / (name + '.log')}")
        self.ready = time.time()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --- building rounds ---------------------------------------------------------------------


def build(engine, *, count: int, bids: int, rng: random.Random) -> list[dict]:
    """``count`` rounds in BIDDING, each of its own case, ending tomorrow; a few bids and held
    deposits each (every tenth round without bids: it closes as 流拍). Returns what the close
    must decide for each."""
    from sqlalchemy import insert, update
    from sqlalchemy.orm import Session

    from auction import services as auction_services
    from auction.models import Round
    from bidding import rules
    from bidding.models import Bid, Book, Deposit, Registration
    from bidding.rules import DepositState
    from core.calendar import WorkCalendar
    from core.context import Context
    from core.rulebook import SPC
    from tests.auction.test_services import notify_all, terms
    from tests.factories import VAULT, make_bidder, make_case, make_priced_asset

    real_now = datetime.now(UTC)
    past = Context(now=real_now - timedelta(days=40), rulebook=SPC, calendar=WorkCalendar(), vault=VAULT,
                   store=None, base_url="http://127.0.0.1:5000")
    expected = []
    with Session(engine, expire_on_commit=False) as s:
        bidders = [make_bidder(s, real_name=f"基准竞买人{i}") for i in range(max(bids, 3) + 2)]
        s.commit()
        rounds = []
        for i in range(count):
            case = make_case(s)
            asset = make_priced_asset(s, case)
            world = {"case": case, "officer": case.officer, "asset": asset}
            s.commit()
            lot = auction_services.create_lot(s, actor=case.officer, asset_ids=[asset.id], title=f"收尾基准标的{i}",
                                              terms=terms(past), ctx=past)
            rnd = lot.current
            notify_all(s, world, rnd, past, past.now - timedelta(days=4))
            auction_services.publish(s, actor=case.officer, round_id=rnd.id, ctx=past)
            rounds.append(rnd)
        auction_services.run_due(s, replace(past, now=rounds[0].start_at))
        ids = [r.id for r in rounds]
        s.execute(update(Round).where(Round.id.in_(ids)).values(end_at=real_now + timedelta(days=1)))
        s.commit()
        bid_rows, book_rows = [], []
        for i, rnd in enumerate(rounds):
            people = rng.sample(bidders, max(bids, 3))
            regs = []
            for k, user in enumerate(people):
                reg = Registration(round_id=rnd.id, user_id=user.id, code=rules.new_bidder_code(),
                                   housing_promise=True, qualified_at=rnd.start_at, created_at=rnd.start_at)
                reg.deposit = Deposit(amount=rnd.deposit, method="bank" if k % 2 == 0 else "gateway",
                                      state=DepositState.HELD, payer_name=user.identity.real_name,
                                      gateway_tx=None if k % 2 == 0 else f"bench-{rnd.id}-{k}",
                                      declared_at=rnd.start_at, confirmed_at=rnd.start_at)
                s.add(reg)
                regs.append(reg)
            s.flush()
            n = 0 if i % 10 == 9 else bids
            last = None
            for seq in range(1, n + 1):
                reg = regs[(seq - 1) % len(regs)]
                amount = rnd.starting_price + rnd.increment * (seq - 1)
                last = (reg.code, amount)
                bid_rows.append({"round_id": rnd.id, "seq": seq, "registration_id": reg.id, "code": reg.code,
                                 "amount": amount, "received_at": rnd.start_at + timedelta(hours=seq),
                                 "priority_rank": None, "extended_to": None, "idempotency_key": f"b{seq}"})
            if last:
                book_rows.append({"round_id": rnd.id, "current_price": last[1], "leader_code": last[0],
                                  "leader_registration_id": next(r.id for r in regs if r.code == last[0]),
                                  "leader_rank": None, "bid_count": n})
            expected.append({"id": rnd.id, "case_id": rnd.lot.case_id,
                             "code": last[0] if last else None, "price": last[1] if last else None})
        if bid_rows:
            s.execute(insert(Bid), bid_rows)
            s.execute(insert(Book), book_rows)
        s.commit()
    return expected


def set_ends(engine, ends: dict[int, datetime]) -> None:
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from auction.models import Round

    with Session(engine) as s:
        for rid, end in ends.items():
            s.execute(update(Round).where(Round.id == rid).values(end_at=end))
        s.commit()


# --- watching and checking ---------------------------------------------------------------


def watch(engine, ids: list[int], *, until: float, seen: dict[int, datetime] | None = None) -> dict[int, datetime]:
    """Poll every 50 ms; the first time each round is seen closed (committed)."""
    from sqlalchemy import select

    from auction.models import Round

    seen = {} if seen is None else seen
    with engine.connect() as conn:
        while len(seen) < len(ids) and time.time() < until:
            now = datetime.now(UTC)
            rows = conn.execute(select(Round.id).where(Round.id.in_(ids), Round.closed_at.is_not(None))).scalars()
            for rid in rows:
                seen.setdefault(rid, now)
            conn.rollback()
            time.sleep(POLL_SECONDS)
    return seen


def _documents_filed(engine, expected: list[dict]) -> int:
    from sqlalchemy import func, select

    from core.models import Document

    with engine.connect() as conn:
        return conn.execute(select(func.count(func.distinct(Document.subject))).where(
            Document.kind.in_(("confirmation", "unsold_record")),
            Document.subject.in_([f"case:{e['case_id']}" for e in expected]))).scalar_one()


def wait_for_documents(engine, expected: list[dict], seen: dict[int, datetime], *, limit: float = 300) -> float | None:
    """Wait (bounded) until the documents lane has filed every close's document; seconds from
    the last close seen to the last document, or ``None`` if they were not all filed."""
    until = time.time() + limit
    while _documents_filed(engine, expected) < len(expected) and time.time() < until:
        time.sleep(0.2)
    if _documents_filed(engine, expected) < len(expected) or not seen:
        return None
    return round(time.time() - max(seen.values()).timestamp(), 1)


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    v = sorted(values)
    return {"n": len(v), "min": round(v[0], 3), "p50": round(v[len(v) // 2], 3),
            "p95": round(v[min(len(v) - 1, int(len(v) * 0.95))], 3), "max": round(v[-1], 3)}


def check(engine, expected: list[dict], ends: dict[int, datetime], seen: dict[int, datetime]) -> dict:
    """Outcomes against the bids, exactly-once ledger entries and documents, lateness."""
    from sqlalchemy import func, select

    from auction.models import Round
    from auction.rules import RoundState
    from core.audit import AuditEntry
    from core.models import Document

    ids = [e["id"] for e in expected]
    with engine.connect() as conn:
        rounds = {r.id: r for r in conn.execute(
            select(Round.id, Round.state, Round.closed_at, Round.buyer_code, Round.sale_price).where(Round.id.in_(ids)))}
        closed_entries = dict(conn.execute(
            select(AuditEntry.stream, func.count()).where(AuditEntry.action == "round.closed",
                                                          AuditEntry.stream.in_([f"round:{i}" for i in ids]))
            .group_by(AuditEntry.stream)).all())
        docs = dict(conn.execute(
            select(Document.subject, func.count()).where(Document.kind.in_(("confirmation", "unsold_record")),
                                                         Document.subject.in_([f"case:{e['case_id']}" for e in expected]))
            .group_by(Document.subject)).all())
    wrong, not_once, recorded, observed = [], [], [], []
    for e in expected:
        r = rounds[e["id"]]
        if e["code"] is None:
            ok = r.state == RoundState.UNSOLD and r.buyer_code is None
        else:
            ok = r.state == RoundState.AWAITING_BALANCE and r.buyer_code == e["code"] and r.sale_price == e["price"]
        if not ok:
            wrong.append(e["id"])
        if closed_entries.get(f"round:{e['id']}", 0) != 1 or docs.get(f"case:{e['case_id']}", 0) != 1:
            not_once.append(e["id"])
        if r.closed_at is not None:
            recorded.append((r.closed_at - ends[e["id"]]).total_seconds())
        if e["id"] in seen:
            observed.append((seen[e["id"]] - ends[e["id"]]).total_seconds())
    return {
        "rounds": len(ids), "closed": sum(1 for r in rounds.values() if r.closed_at is not None),
        "outcome_wrong": len(wrong), "not_exactly_once": len(not_once),
        "round_closed_entries": sum(closed_entries.values()), "close_documents": sum(docs.values()),
        "recorded_lateness_s": _stats(recorded), "observed_lateness_s": _stats(observed),
        "within_target": sum(1 for x in observed if x <= TARGET_SECONDS),
    }


# --- scenarios ---------------------------------------------------------------------------


def minute_of_ends(ids: list[int], start: datetime, seconds: float, rng: random.Random,
                   burst: float = 0.5) -> dict[int, datetime]:
    """A ``burst`` share of the rounds at one instant (the middle of the window), the others
    spread uniformly over it, to the ms."""
    ends = {}
    instant = start + timedelta(seconds=seconds / 2)
    every = round(1 / burst) if burst > 0 else 0
    for i, rid in enumerate(ids):
        if every and i % every == 0:
            ends[rid] = instant
        else:
            ends[rid] = start + timedelta(milliseconds=rng.randrange(int(seconds * 1000)))
    return ends


def drain_deadline(ends: dict[int, datetime], grace: float) -> float:
    return max(ends.values()).timestamp() + grace


def on_time(engine, expected, ctx, *, burst: float = 0.0) -> dict:
    ids = [e["id"] for e in expected]
    ends = minute_of_ends(ids, datetime.now(UTC) + timedelta(seconds=8), ctx["window"], ctx["rng"], burst)
    set_ends(engine, ends)
    sched = Scheduler(ctx["url"], ctx["instance"], "on-time", ctx["logs"])
    try:
        seen = watch(engine, ids, until=drain_deadline(ends, ctx["grace"]))
        documents_s = wait_for_documents(engine, expected, seen)
    finally:
        sched.stop()
    return {**check(engine, expected, ends, seen), "documents_after_last_close_s": documents_s}


def restart(engine, expected, ctx) -> dict:
    ids = [e["id"] for e in expected]
    sched = Scheduler(ctx["url"], ctx["instance"], "before-restart", ctx["logs"])
    time.sleep(2)
    sched.stop()
    stopped = datetime.now(UTC)
    ends = minute_of_ends(ids, stopped + timedelta(seconds=2), 15, ctx["rng"])
    set_ends(engine, ends)
    restart_at = stopped.timestamp() + ctx["down"]
    seen = watch(engine, ids, until=restart_at)  # nothing may close while it is down
    closed_while_down = len(seen)
    again = Scheduler(ctx["url"], ctx["instance"], "after-restart", ctx["logs"])
    try:
        seen = watch(engine, ids, until=time.time() + max(ctx["grace"], 120), seen=seen)
        documents_s = wait_for_documents(engine, expected, seen)
    finally:
        again.stop()
    result = check(engine, expected, ends, seen)
    after = [(t.timestamp() - again.started) for t in seen.values()]
    result.update({"down_s": round(again.started - stopped.timestamp(), 1), "closed_while_down": closed_while_down,
                   "documents_after_last_close_s": documents_s,
                   "restart_to_ready_s": round(again.ready - again.started, 2),
                   "restart_to_all_closed_s": round(max(after), 3) if after else None,
                   "restart_to_first_closed_s": round(min(after), 3) if after else None})
    return result


def two_at_once(engine, expected, ctx, *, mode: str) -> dict:
    from sqlalchemy import select

    from core.models import SchedulerHeartbeat

    ids = [e["id"] for e in expected]
    ends = minute_of_ends(ids, datetime.now(UTC) + timedelta(seconds=8), 20, ctx["rng"])
    set_ends(engine, ends)
    names = [f"{mode}-a", f"{mode}-b"]
    procs = [Scheduler(ctx["url"], ctx["instance"], n, ctx["logs"]) if mode == "scheduler"
             else Child(mode, ctx["url"], ctx["instance"], n, ctx["logs"]) for n in names]
    if mode == "racer":  # the racers only close: the documents come from a scheduler's lane
        procs.append(Child("documents", ctx["url"], ctx["instance"], "racer-documents", ctx["logs"]))
    try:
        seen = watch(engine, ids, until=drain_deadline(ends, ctx["grace"]))
        documents_s = wait_for_documents(engine, expected, seen)
        # Before stopping either: once the leader stops, the other takes over (as it should).
        with engine.connect() as conn:
            beats = conn.execute(select(SchedulerHeartbeat.name, SchedulerHeartbeat.last_sweep_at)
                                 .where(SchedulerHeartbeat.name.in_(names))).all()
    finally:
        for p in procs:
            p.stop()
    result = {**check(engine, expected, ends, seen), "documents_after_last_close_s": documents_s}
    if mode == "scheduler":
        result["acted"] = sorted(n for n, last in beats if last is not None)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--bids", type=int, default=3)
    ap.add_argument("--window", type=float, default=60, help="seconds over which the on-time rounds end")
    ap.add_argument("--down", type=float, default=20, help="seconds the scheduler is stopped")
    ap.add_argument("--grace", type=float, default=60, help="seconds to wait for closes after the last end")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--only", default=None, help="comma-separated scenarios")
    ap.add_argument("--stub-pdf", action="store_true",
                    help="diagnosis: closes file a fixed PDF instead of rendering the confirmation")
    ap.add_argument("--child", nargs=4, metavar=("MODE", "URL", "INSTANCE", "NAME"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if not args.url.startswith("postgresql"):
        sys.exit("close.py needs PostgreSQL (--url postgresql://…)")
    os.environ["TEST_DATABASE_URL"] = args.url
    if args.stub_pdf:
        os.environ["BENCH_STUB_PDF"] = "1"  # read by the children
    from core.db import make_engine
    from tests.conftest import new_database

    tmp = Path(tempfile.mkdtemp(prefix="bench-close-"))
    (tmp / "logs").mkdir()
    url, drop = new_database(tmp)
    engine = make_engine(url)
    rng = random.Random(args.seed)
    ctx = {"url": url, "instance": str(tmp / "instance"), "logs": tmp / "logs", "rng": rng,
           "window": args.window, "down": args.down, "grace": args.grace}
    scenarios = {
        "on_time": lambda exp: on_time(engine, exp, ctx),
        "burst": lambda exp: on_time(engine, exp, ctx, burst=0.5),
        "restart": lambda exp: restart(engine, exp, ctx),
        "two_schedulers": lambda exp: two_at_once(engine, exp, ctx, mode="scheduler"),
        "racing_closers": lambda exp: two_at_once(engine, exp, ctx, mode="racer"),
    }
    chosen = args.only.split(",") if args.only else list(scenarios)
    results = {}
    started = time.time()
    try:
        t0 = time.time()
        batches = {name: build(engine, count=args.rounds, bids=args.bids, rng=rng) for name in chosen}
        print(f"built {args.rounds} rounds × {len(chosen)} scenarios ({args.bids} bids each, every tenth none) "
              f"in {time.time() - t0:.1f} s")
        for name in chosen:
            t0 = time.time()
            r = scenarios[name](batches[name])
            r["scenario_s"] = round(time.time() - t0, 1)
            results[name] = r
            obs, rec = r["observed_lateness_s"], r["recorded_lateness_s"]
            extra = ""
            if name == "restart":
                extra = (f"; down {r['down_s']} s, closed while down {r['closed_while_down']}, restart → first close "
                         f"{r['restart_to_first_closed_s']} s, → all closed {r['restart_to_all_closed_s']} s")
            if "acted" in r:
                extra += f"; schedulers that acted: {r['acted']}"
            print(f"{name}: closed {r['closed']}/{r['rounds']}, wrong outcomes {r['outcome_wrong']}, "
                  f"not exactly once {r['not_exactly_once']} (round.closed entries {r['round_closed_entries']}, "
                  f"close documents {r['close_documents']}); observed lateness p50 {obs.get('p50')} s, "
                  f"p95 {obs.get('p95')} s, max {obs.get('max')} s; recorded (closed_at − end_at) max {rec.get('max')} s; "
                  f"≤ {TARGET_SECONDS:.0f} s: {r['within_target']}/{r['rounds']}{extra}")
    finally:
        engine.dispose()
        drop()
    print(f"logs: {ctx['logs']}; total {time.time() - started:.0f} s")
    print(json.dumps({"target_s": TARGET_SECONDS, "rounds": args.rounds, "bids_per_round": args.bids,
                      "stub_pdf": args.stub_pdf,
                      "cpus": os.cpu_count(), "scenarios": results}, default=str))


if __name__ == "__main__":
    main()
