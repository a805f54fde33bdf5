"""Bid-transcript PDF (竞价记录): render time and peak memory for 1,000 and 10,000 bids.

Targets (DESIGN.md §6): 1,000 bids ≤ 2 s, 10,000 bids ≤ 12 s, peak memory ≤ 400 MB. The rounds
are built directly in a temporary SQLite database with bulk inserts (a day of bids, then a
bidding war in which every bid extends the end, as on a hot lot). Each render runs in a fresh
child process, so its peak RSS (``ru_maxrss``) is that render's alone, interpreter, imports and
fonts included (``VmHWM``; the parent cross-checks with ``getrusage(RUSAGE_CHILDREN)``); the
child renders a second time to show the warm figure. Prints figures; the
last line is one JSON object. Usage:

    .venv/bin/python bench/pdf.py [--bids 1000,10000] [--bidders 40] [--out bench/out]

``--out`` keeps the PDFs for a look. The script never asserts: compare the figures yourself.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = {1000: 2.0, 10000: 12.0}
TARGET_RSS_MB = 400.0
BASE_URL = "http://127.0.0.1:5000"


def _rss_mb(who=resource.RUSAGE_SELF) -> float:
    """``ru_maxrss`` in MB (Linux reports kilobytes). A child's own figure starts at its
    parent's size at fork (Linux keeps it across exec), so the child reports :func:`_hwm_mb`."""
    return resource.getrusage(who).ru_maxrss / 1024


def _hwm_mb() -> float:
    """Peak resident set of this process since its exec (``VmHWM``), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return _rss_mb()


# --- building a round --------------------------------------------------------------------


def build_round(url: str, *, bids: int, bidders: int, seed: int) -> int:
    """A closed round with ``bids`` bids from ``bidders`` registrants; returns its id.

    70 % of the bids spread over the 24 hours, the rest a bidding war: each one inside the last
    5 minutes, so each one extends the end (A28) and appears in the extension list too.
    """
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from auction.models import Lot, LotAsset, Round
    from auction.rules import RoundKind, RoundState
    from bidding.models import Bid, Book, Deposit, Registration
    from bidding.rules import DepositState
    from core.audit import record
    from core.db import make_engine
    from tests.factories import make_bidder, make_case, make_priced_asset

    rng = random.Random(seed)
    engine = make_engine(url)
    start = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 Beijing time
    scheduled_end = start + timedelta(hours=24)
    window = timedelta(minutes=5)
    starting, increment, deposit = Decimal("1000000.00"), Decimal("5000.00"), Decimal("100000.00")
    with Session(engine, expire_on_commit=False) as s:
        case = make_case(s)
        asset = make_priced_asset(s, case, price=Decimal("1400000"))
        lot = Lot(case_id=case.id, title=f"基准测试标的（{bids} 次出价）", reference_price=Decimal("1400000.00"),
                  valid_until=(start + timedelta(days=200)).date(), movable=False, housing=True,
                  created_at=start - timedelta(days=40), created_by_id=case.officer_id)
        s.add(lot)
        s.flush()
        s.add(LotAsset(lot_id=lot.id, asset_id=asset.id, procedure_id=1, reference_price=Decimal("1400000.00")))
        rnd = Round(lot_id=lot.id, seq=1, kind=RoundKind.FIRST, state=RoundState.AWAITING_BALANCE,
                    starting_price=starting, deposit=deposit, increment=increment, start_at=start,
                    end_at=scheduled_end, balance_days=30, taxes=[], published_at=start - timedelta(days=31),
                    created_at=start - timedelta(days=40))
        s.add(rnd)
        s.flush()
        record(s, stream=f"lot:{lot.id}", actor="bench", action="round.published", subject=f"round:{rnd.id}",
               payload={"start_at": start.isoformat(), "end_at": scheduled_end.isoformat()},
               now=start - timedelta(days=31))
        regs = []
        for i in range(bidders):
            user = make_bidder(s, real_name=f"基准竞买人{i:03d}")
            reg = Registration(round_id=rnd.id, user_id=user.id, code=f"B{i:03d}", housing_promise=True,
                               qualified_at=start - timedelta(days=1), created_at=start - timedelta(days=2))
            reg.deposit = Deposit(amount=deposit, method="bank", state=DepositState.HELD, payer_name=user.display_name,
                                  declared_at=start - timedelta(days=2), confirmed_at=start - timedelta(days=1))
            s.add(reg)
            regs.append(reg)
        s.flush()

        calm = int(bids * 0.7)
        span = (scheduled_end - window - start - timedelta(minutes=1)).total_seconds()
        times = sorted(start + timedelta(minutes=1, seconds=rng.uniform(0, span)) for _ in range(calm))
        rows, end, last_reg = [], scheduled_end, None
        for k in range(1, bids + 1):
            if k <= calm:
                received = times[k - 1].replace(microsecond=rng.randrange(0, 1000) * 1000)
            else:
                received = max(rows[-1]["received_at"] + timedelta(milliseconds=1),
                               end - timedelta(seconds=rng.uniform(200, 299)))
            extended_to = received + window if end - received <= window and received + window > end else None
            if extended_to is not None:
                end = extended_to
            reg = rng.choice([r for r in regs if r is not last_reg])
            last_reg = reg
            rows.append({"round_id": rnd.id, "seq": k, "registration_id": reg.id, "code": reg.code,
                         "amount": starting + increment * (k - 1), "received_at": received, "priority_rank": None,
                         "extended_to": extended_to, "idempotency_key": f"k{k}"})
        s.execute(insert(Bid), rows)
        winner = rows[-1]
        s.add(Book(round_id=rnd.id, current_price=winner["amount"], leader_registration_id=winner["registration_id"],
                   leader_code=winner["code"], bid_count=bids))
        rnd.end_at = end
        rnd.closed_at = end + timedelta(milliseconds=300)
        rnd.sale_price, rnd.buyer_code = winner["amount"], winner["code"]
        rnd.buyer_id = next(r.user_id for r in regs if r.id == winner["registration_id"])
        # The ledger is not replayed bid by bid (it is not what is measured): one entry gives the
        # stream a head to print.
        record(s, stream=f"round:{rnd.id}", actor="system:close", action="round.closed", subject=f"round:{rnd.id}",
               payload={"bids": bids, "winner_code": winner["code"], "price": str(winner["amount"])},
               now=rnd.closed_at)
        s.commit()
        round_id = rnd.id
    engine.dispose()
    return round_id


# --- one render, in a child process ------------------------------------------------------


def render_child(url: str, round_id: int, sealed: bool, out: str | None) -> None:
    """Runs in the child: render once cold, once warm; print one JSON line."""
    baseline_before_imports = _hwm_mb()
    import io

    from pypdf import PdfReader
    from sqlalchemy.orm import Session

    from bidding.transcript import TEMPLATE, transcript_context
    from core.db import make_engine
    from core.pdf import html_to_pdf, render_html

    engine = make_engine(url)
    baseline = _hwm_mb()
    timings = []
    for _ in range(2):
        t0 = time.perf_counter()
        with Session(engine) as s:
            context = transcript_context(s, round_id, sealed=sealed)
        t1 = time.perf_counter()
        html = render_html(TEMPLATE, context, public_base_url=BASE_URL)
        t2 = time.perf_counter()
        data = html_to_pdf(html)
        t3 = time.perf_counter()
        timings.append({"context_s": t1 - t0, "html_s": t2 - t1, "layout_s": t3 - t2, "total_s": t3 - t0})
        if len(timings) == 1:
            cold_peak = _hwm_mb()
    if out:
        Path(out).write_bytes(data)
    print(json.dumps({
        "bids": len(context["bids"]), "extensions": len(context["extensions"]), "sealed": sealed,
        "pages": len(PdfReader(io.BytesIO(data)).pages), "bytes": len(data),
        "cold": {k: round(v, 3) for k, v in timings[0].items()},
        "warm": {k: round(v, 3) for k, v in timings[1].items()},
        "rss_start_mb": round(baseline_before_imports, 1), "rss_after_imports_mb": round(baseline, 1),
        "peak_rss_cold_mb": round(cold_peak, 1), "peak_rss_mb": round(_hwm_mb(), 1),
        "ru_maxrss_mb": round(_rss_mb(), 1),
    }))
    engine.dispose()


def run_child(url: str, round_id: int, sealed: bool, out: str | None) -> dict:
    before = _rss_mb(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, __file__, "--render", url, str(round_id), "--sealed" if sealed else "--public"]
    if out:
        cmd += ["--pdf", out]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"render child failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["child_wall_s"] = round(wall, 2)
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: a cross-check of the child's own
    # figure, meaningful when it grows.
    result["children_maxrss_mb"] = round(max(before, _rss_mb(resource.RUSAGE_CHILDREN)), 1)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bids", default="1000,10000")
    ap.add_argument("--bidders", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=None, help="folder to keep the PDFs in")
    ap.add_argument("--render", nargs=2, metavar=("URL", "ROUND_ID"), help=argparse.SUPPRESS)
    ap.add_argument("--sealed", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--public", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--pdf", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.render:
        render_child(args.render[0], int(args.render[1]), args.sealed, args.pdf)
        return

    os.environ.pop("TEST_DATABASE_URL", None)  # SQLite: the render reads, it does not contend
    from tests.conftest import new_database

    sizes = [int(x) for x in args.bids.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    url, drop = new_database(tmp)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for n in sizes:
            t0 = time.perf_counter()
            round_id = build_round(url, bids=n, bidders=args.bidders, seed=args.seed)
            print(f"built round {round_id}: {n} bids in {time.perf_counter() - t0:.1f} s")
            for sealed in (False, True):
                out = str(Path(args.out) / f"transcript-{n}-{'sealed' if sealed else 'public'}.pdf") if args.out else None
                r = run_child(url, round_id, sealed, out)
                target = TARGET_SECONDS.get(n)
                r["target_s"] = target
                r["time_ratio"] = round(r["cold"]["total_s"] / target, 2) if target else None
                r["rss_ratio"] = round(r["peak_rss_mb"] / TARGET_RSS_MB, 2)
                results.append(r)
                print(f"{n:>6} bids {'sealed' if sealed else 'public'}: {r['pages']} pages, {r['bytes'] / 1e6:.2f} MB; "
                      f"cold {r['cold']['total_s']:.2f} s (context {r['cold']['context_s']:.2f}, "
                      f"html {r['cold']['html_s']:.2f}, layout {r['cold']['layout_s']:.2f}), "
                      f"warm {r['warm']['total_s']:.2f} s; peak RSS {r['peak_rss_mb']:.0f} MB "
                      f"(after imports {r['rss_after_imports_mb']:.0f} MB); "
                      f"target {target} s / {TARGET_RSS_MB:.0f} MB -> time ×{r['time_ratio']}, memory ×{r['rss_ratio']}")
    finally:
        drop()
    by = {(r["bids"], r["sealed"]): r for r in results}
    scaling = None
    if (1000, False) in by and (10000, False) in by:
        scaling = round(by[(10000, False)]["cold"]["total_s"] / by[(1000, False)]["cold"]["total_s"], 2)
        print(f"10,000 / 1,000 bids, public, cold: ×{scaling} time")
    meets = all((r["time_ratio"] is None or r["time_ratio"] <= 1) and r["rss_ratio"] <= 1 for r in results)
    print(f"all targets met: {meets}")
    import platform

    print(json.dumps({"results": results, "scaling_10k_over_1k": scaling, "targets_met": meets,
                      "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}))


if __name__ == "__main__":
    main()
