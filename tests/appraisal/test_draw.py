"""The draw protocol: deterministic, uniform, and checkable by a stranger."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appraisal import draw
from appraisal.draw import DrawError

ROOT = Path(__file__).resolve().parents[2]


def pool_of(n: int, start: int = 1) -> list[dict]:
    return [{"id": i, "name": f"评估机构{i}", "licence": f"LIC-{i:04d}"} for i in range(start, start + n)]


def record_for(pool, seed, contributions=(), draw_id=7) -> dict:
    result = draw.run_draw(draw_id=draw_id, pool=pool, seed_hex=seed, contributions=list(contributions))
    return {"protocol": draw.PROTOCOL, "draw_id": draw_id, "pool": pool, "pool_digest": result["pool_digest"],
            "seed_commitment": draw.seed_commitment(seed), "seed": seed, "contributions": list(contributions),
            "combined": result["combined"], "ranking": result["ranking"], "size": 3}


def test_the_same_inputs_always_give_the_same_ranking():
    pool, seed = pool_of(6), "ab" * 32
    first = draw.run_draw(draw_id=1, pool=pool, seed_hex=seed, contributions=[])
    assert draw.run_draw(draw_id=1, pool=list(reversed(pool)), seed_hex=seed, contributions=[]) == first


def test_a_party_contribution_changes_the_outcome_space():
    pool, seed = pool_of(30), "cd" * 32
    without = draw.run_draw(draw_id=1, pool=pool, seed_hex=seed, contributions=[])
    secret = "party-secret-42"
    c = {"by": "applicant", "commitment": draw.contribution_commitment(1, secret), "secret": secret}
    with_party = draw.run_draw(draw_id=1, pool=pool, seed_hex=seed, contributions=[c])
    assert with_party["combined"] != without["combined"]


def test_an_unrevealed_contribution_is_ignored_and_a_false_reveal_refused():
    pool, seed = pool_of(5), "ef" * 32
    silent = {"by": "debtor", "commitment": draw.contribution_commitment(1, "x"), "secret": None}
    assert draw.run_draw(draw_id=1, pool=pool, seed_hex=seed, contributions=[silent]) == \
        draw.run_draw(draw_id=1, pool=pool, seed_hex=seed, contributions=[])
    liar = {"by": "debtor", "commitment": draw.contribution_commitment(1, "x"), "secret": "y"}
    with pytest.raises(DrawError, match="does not match"):
        draw.run_draw(draw_id=1, pool=pool, seed_hex=seed, contributions=[liar])


def test_a_commitment_is_bound_to_its_draw():
    assert draw.contribution_commitment(1, "s") != draw.contribution_commitment(2, "s")


def test_a_pool_smaller_than_three_cannot_be_drawn():
    with pytest.raises(DrawError, match="needs 3"):
        draw.rank(pool_of(2), "00" * 32)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=3, max_value=60), seed=st.binary(min_size=32, max_size=32),
       start=st.integers(min_value=1, max_value=10_000),
       secrets=st.lists(st.text(min_size=1, max_size=20), max_size=3))
def test_the_ranking_is_always_three_distinct_agencies_of_the_pool(n, seed, start, secrets):
    pool = pool_of(n, start)
    contributions = [{"by": f"p{i}", "commitment": draw.contribution_commitment(9, s), "secret": s}
                     for i, s in enumerate(secrets)]
    ranking = draw.run_draw(draw_id=9, pool=pool, seed_hex=seed.hex(), contributions=contributions)["ranking"]
    assert len(ranking) == 3 and len(set(ranking)) == 3
    assert set(ranking) <= {a["id"] for a in pool}


def test_every_agency_is_drawn_first_about_equally_often():
    """Over 7,000 seeds each of 7 agencies should be ranked first ~1,000 times; the binomial
    standard deviation is ~29, so 5 sigma (±147) never fails by chance for this fixed set."""
    n, trials = 7, 7000
    pool = pool_of(n)
    firsts = Counter()
    for i in range(trials):
        seed = draw.sha256_hex(f"trial-{i}")
        firsts[draw.run_draw(draw_id=1, pool=pool, seed_hex=seed, contributions=[])["ranking"][0]] += 1
    expected = trials / n
    sigma = math.sqrt(trials * (1 / n) * (1 - 1 / n))
    assert set(firsts) == {a["id"] for a in pool}
    for agency, count in firsts.items():
        assert abs(count - expected) < 5 * sigma, (agency, count)
    chi2 = sum((c - expected) ** 2 / expected for c in firsts.values())
    assert chi2 < 22.46  # chi-square, 6 degrees of freedom, p = 0.001


def test_a_sound_record_verifies():
    secret = "我的随机数"
    rec = record_for(pool_of(8), "12" * 32, [{"by": "applicant", "commitment": draw.contribution_commitment(7, secret),
                                              "secret": secret}])
    assert draw.verify_record(rec) == []


@pytest.mark.parametrize("mutate, expect", [
    (lambda r: r["pool"].append({"id": 99, "name": "x", "licence": "y"}), "digest"),
    (lambda r: r["pool"][0].update(name="改名机构"), "digest"),
    (lambda r: r.update(seed="34" * 32), "commitment"),
    (lambda r: r.update(seed_commitment="00" * 32), "commitment"),
    (lambda r: r["ranking"].reverse(), "ranking"),
    (lambda r: r.update(combined="00" * 32), "combined"),
    (lambda r: r["contributions"][0].update(secret="another"), "does not match"),
    (lambda r: r.update(draw_id=8), "does not match"),
    (lambda r: r.pop("seed"), "not been revealed"),
    (lambda r: r.pop("pool"), "malformed"),
])
def test_the_verifier_rejects_a_record_with_any_field_altered(mutate, expect):
    secret = "s3cret"
    rec = record_for(pool_of(8), "12" * 32, [{"by": "applicant", "commitment": draw.contribution_commitment(7, secret),
                                              "secret": secret}])
    mutate(rec)
    problems = draw.verify_record(rec)
    assert problems and any(expect in p for p in problems), problems


def test_the_standalone_verifier_runs_with_only_the_standard_library(tmp_path):
    """A stranger copies the two files next to an empty package and runs them without
    site-packages (-S), the environment (-E) or user site (-s): only the standard library."""
    stranger = tmp_path / "stranger" / "appraisal"
    stranger.mkdir(parents=True)
    (stranger / "__init__.py").write_text("")
    for name in ("draw.py", "verify.py"):
        (stranger / name).write_text((ROOT / "appraisal" / name).read_text(encoding="utf-8"), encoding="utf-8")
    rec = record_for(pool_of(5), "56" * 32)
    path = tmp_path / "record.json"
    path.write_text(json.dumps(rec, ensure_ascii=False), encoding="utf-8")
    cmd = [sys.executable, "-S", "-E", "-s", "-m", "appraisal.verify", str(path)]
    ok = subprocess.run(cmd, cwd=stranger.parent, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "verifies" in ok.stdout and "rank 1" in ok.stdout
    rec["ranking"] = list(reversed(rec["ranking"]))
    path.write_text(json.dumps(rec), encoding="utf-8")
    bad = subprocess.run(cmd, cwd=stranger.parent, capture_output=True, text=True)
    assert bad.returncode == 1 and "DOES NOT VERIFY" in bad.stdout
