"""Audit-ledger append throughput: one hot stream vs. many streams, several threads.

Shows that appends to different streams do not queue on one lock (DESIGN.md §5): with N
threads, "many streams" should scale well past "one stream". Prints figures; the last line is
one JSON object. Usage:

    .venv/bin/python bench/ledger.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--threads 16] [--seconds 5]

It creates and drops its own database on the given server (SQLite: a temp file).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session  # noqa: E402

from core.audit import record, verify  # noqa: E402
from core.db import make_engine  # noqa: E402
from tests.conftest import new_database  # noqa: E402


def run(engine, *, threads: int, seconds: float, streams: int) -> dict:
    stop = time.monotonic() + seconds
    counts = [0] * threads
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(i: int):
        stream = f"bench:{i % streams}"
        local = []
        with Session(engine) as s:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                record(s, stream=stream, actor="bench", action="bench.append", subject=stream,
                       payload={"i": counts[i]}, now=datetime.now(timezone.utc))
                s.commit()
                local.append(time.perf_counter() - t0)
                counts[i] += 1
        with lock:
            latencies.extend(local)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    latencies.sort()
    total = sum(counts)
    return {
        "appends_per_s": round(total / seconds, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2) if latencies else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    import os

    if args.url.startswith("postgresql"):
        os.environ["TEST_DATABASE_URL"] = args.url
    else:
        os.environ.pop("TEST_DATABASE_URL", None)
    url, drop = new_database(Path(tempfile.mkdtemp()))
    engine = make_engine(url, pool_size=args.threads + 2)
    try:
        one = run(engine, threads=args.threads, seconds=args.seconds, streams=1)
        print(f"one stream,  {args.threads} threads: {one}")
        many = run(engine, threads=args.threads, seconds=args.seconds, streams=args.threads)
        print(f"{args.threads} streams, {args.threads} threads: {many}")
        with Session(engine) as s:
            problems = verify(s)
        print(f"ledger verify: {'ok' if not problems else problems[0]}")
        result = {"one_stream": one, "many_streams": many,
                  "ratio_many_over_one": round(many["appends_per_s"] / max(one["appends_per_s"], 1), 2),
                  "verify_ok": not problems, "dialect": engine.dialect.name}
        print(json.dumps(result))
    finally:
        engine.dispose()
        drop()


if __name__ == "__main__":
    main()
