"""Check a published draw record with nothing but the Python standard library.

Usage::

    python -m appraisal.verify record.json      # exit 0: sound; exit 1: names every problem

The record is the JSON downloaded from the public draw page (``/appraisal/draws/<id>.json``).
"""
from __future__ import annotations

import json
import sys

from appraisal.draw import verify_record


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m appraisal.verify record.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args[0]}: {exc}", file=sys.stderr)
        return 2
    problems = verify_record(record)
    if problems:
        print(f"DRAW {record.get('draw_id', '?')} DOES NOT VERIFY:")
        for p in problems:
            print(f"  - {p}")
        return 1
    ranking = record["ranking"]
    names = {a["id"]: a["name"] for a in record["pool"]}
    print(f"draw {record['draw_id']} verifies: pool of {len(record['pool'])}, "
          f"{len([c for c in record.get('contributions', []) if c.get('secret')])} party contributions")
    for i, agency_id in enumerate(ranking, start=1):
        print(f"  rank {i}: #{agency_id} {names.get(agency_id, '')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
