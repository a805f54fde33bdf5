"""The random draw of agencies (摇号): a commit–reveal protocol anyone can re-run.

Standard library only, so a stranger can check a draw with nothing but Python and the record
(``python -m appraisal.verify record.json``). See docs/decisions/0008-draw-protocol.md.

1. **Freeze** (when the draw is scheduled, ≥ 1 day ahead, decision 14): the eligible pool is
   fixed and published with its digest, and the platform publishes ``commitment(seed)``, the
   hash of a secret 32-byte seed it drew from ``secrets``.
2. **Contribute** (until the draw time): each party may commit to a secret of its own
   (``contribution_commitment``) and later reveal it; only revealed secrets that match their
   commitment count. Reveals close before the platform reveals its seed.
3. **Draw** (at the scheduled time): ``combined = H(draw id, pool digest, seed, sorted revealed
   secrets)``; every agency gets the key ``H(combined, agency id)``; the three smallest keys, in
   order, are ranks 1–3. The seed is then published.

The platform cannot choose the seed after seeing the pool or the parties' secrets (it committed
first), and a party cannot steer the result (it never sees the platform's seed before its own
secret is fixed). Each agency's key is a uniform 256-bit value, so every ranking is equally
likely.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets as _secrets

PROTOCOL = "jap-draw-v1"
DRAW_SIZE = 3


class DrawError(ValueError):
    """The inputs of a draw are inconsistent (unmatched reveal, too small a pool…)."""


def canonical(value) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def new_seed() -> str:
    """A fresh secret seed (64 hex characters) from the operating system's CSPRNG."""
    return _secrets.token_hex(32)


def seed_commitment(seed_hex: str) -> str:
    """What the platform publishes before the draw: H(protocol, "seed", seed)."""
    return sha256_hex(canonical([PROTOCOL, "seed", seed_hex]))


def contribution_commitment(draw_id: int, secret: str) -> str:
    """What a party publishes before revealing its secret (bound to one draw)."""
    return sha256_hex(canonical([PROTOCOL, "contribution", draw_id, secret]))


def pool_digest(pool: list[dict]) -> str:
    """Digest of the frozen pool: ``[{"id", "name", "licence"}]`` sorted by id."""
    ordered = sorted(pool, key=lambda a: a["id"])
    return sha256_hex(canonical([PROTOCOL, "pool", [[a["id"], a["name"], a["licence"]] for a in ordered]]))


def combined_randomness(draw_id: int, digest: str, seed_hex: str, revealed: list[str]) -> str:
    """Mix every input; the order of the parties' secrets does not matter."""
    return sha256_hex(canonical([PROTOCOL, "combined", draw_id, digest, seed_hex, sorted(revealed)]))


def agency_key(combined: str, agency_id: int) -> str:
    return sha256_hex(canonical([PROTOCOL, "key", combined, agency_id]))


def rank(pool: list[dict], combined: str, size: int = DRAW_SIZE) -> list[int]:
    """The ids of the ``size`` agencies with the smallest keys, rank 1 first.

    :raise DrawError: when the pool has fewer than ``size`` agencies or repeats an id.
    """
    ids = [a["id"] for a in pool]
    if len(set(ids)) != len(ids):
        raise DrawError("the pool lists an agency twice")
    if len(ids) < size:
        raise DrawError(f"the pool has {len(ids)} agencies; a draw needs {size}")
    return sorted(ids, key=lambda i: agency_key(combined, i))[:size]


def valid_reveals(draw_id: int, contributions: list[dict]) -> list[str]:
    """The secrets that count: revealed and matching their commitment.

    :raise DrawError: when a revealed secret does not match its commitment (the record lies).
    """
    out = []
    for c in contributions:
        secret = c.get("secret")
        if secret is None:
            continue
        if not hmac.compare_digest(contribution_commitment(draw_id, secret), c["commitment"]):
            raise DrawError(f"contribution of {c.get('by', '?')} does not match its commitment")
        out.append(secret)
    return out


def run_draw(*, draw_id: int, pool: list[dict], seed_hex: str, contributions: list[dict],
             size: int = DRAW_SIZE) -> dict:
    """Compute a draw from its inputs: returns ``{"pool_digest", "combined", "ranking"}``."""
    digest = pool_digest(pool)
    combined = combined_randomness(draw_id, digest, seed_hex, valid_reveals(draw_id, contributions))
    return {"pool_digest": digest, "combined": combined, "ranking": rank(pool, combined, size)}


def verify_record(record: dict) -> list[str]:
    """Check a published draw record; returns the problems (empty when the draw is sound).

    Checks the pool digest, the platform's seed against its commitment, every revealed
    contribution against its commitment, the combined value and the ranking.
    """
    problems = []
    try:
        if record.get("protocol") != PROTOCOL:
            problems.append(f"unknown protocol {record.get('protocol')!r}")
            return problems
        draw_id, pool = record["draw_id"], record["pool"]
        if pool_digest(pool) != record["pool_digest"]:
            problems.append("the pool does not match its published digest")
        seed = record.get("seed")
        if not seed:
            problems.append("the seed has not been revealed")
            return problems
        if not hmac.compare_digest(seed_commitment(seed), record["seed_commitment"]):
            problems.append("the revealed seed does not match the commitment published before the draw")
        try:
            result = run_draw(draw_id=draw_id, pool=pool, seed_hex=seed, contributions=record.get("contributions", []),
                              size=record.get("size", DRAW_SIZE))
        except DrawError as exc:
            problems.append(str(exc))
            return problems
        if result["combined"] != record.get("combined"):
            problems.append("the combined randomness does not follow from the inputs")
        if result["ranking"] != record.get("ranking"):
            problems.append(f"the ranking should be {result['ranking']}, the record says {record.get('ranking')}")
    except (KeyError, TypeError, AttributeError) as exc:
        problems.append(f"the record is incomplete or malformed ({type(exc).__name__}: {exc})")
    return problems
