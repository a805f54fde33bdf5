"""Configuration from the environment and the rulebook profiles."""
from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from decimal import Decimal

import pytest

from core.config import ConfigError, load_config
from core.rulebook import DEMO, SPC, get_rulebook


def test_defaults_use_sqlite_under_instance_and_keep_a_generated_secret(tmp_path, monkeypatch):
    for var in ("DATABASE_URL", "SECRET_KEY", "IDENTITY_KEY", "RULEBOOK", "CLOCK", "ENV"):
        monkeypatch.delenv(var, raising=False)
    cfg = load_config(tmp_path)
    assert cfg["DATABASE_URL"] == f"sqlite:///{tmp_path / 'auction.sqlite3'}"
    assert cfg["RULEBOOK"] == "spc" and cfg["CLOCK"] == "real"
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert load_config(tmp_path)["SECRET_KEY"] == cfg["SECRET_KEY"]  # kept, not regenerated


def test_a_simulated_clock_is_refused_in_production(tmp_path, monkeypatch):
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("CLOCK", "simulated")
    monkeypatch.setenv("SECRET_KEY", "x")
    with pytest.raises(ConfigError, match="refused"):
        load_config(tmp_path)


def test_the_demo_rulebook_is_refused_in_production(tmp_path):
    with pytest.raises(ConfigError):
        load_config(tmp_path, {"ENV": "production", "RULEBOOK": "demo", "SECRET_KEY": "x"})


def test_unknown_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError):
        load_config(tmp_path, {"RULEBOOK": "fast"})
    with pytest.raises(ConfigError):
        load_config(tmp_path, {"CLOCK": "fake"})


def test_every_rulebook_number_names_its_rule():
    for f in fields(SPC):
        if f.name == "name":
            continue
        assert f.metadata.get("rule"), f"{f.name} has no rule id"
        assert f.metadata.get("text"), f"{f.name} has no explanation"


def test_the_spc_profile_holds_the_law_as_written():
    assert SPC.start_price_floor_pct == Decimal("70")  # A05
    assert (SPC.deposit_min_pct, SPC.deposit_max_pct) == (Decimal("5"), Decimal("20"))  # A19
    assert SPC.min_bidding_period == timedelta(hours=24)  # A27
    assert SPC.extension_window == timedelta(minutes=5)  # A28
    assert (SPC.lead_days_movable_r1, SPC.lead_days_property_r1) == (15, 30)  # A08
    assert SPC.report_days == 30 and SPC.days(30) == timedelta(days=30)  # E30
    assert "A05" in SPC.explain("start_price_floor_pct")


def test_the_spc_profile_never_uses_replaced_offline_values():
    # B11: offline rules S1 replaced (announcement 7/15 days for a first auction, 60-day relist).
    assert SPC.lead_days_property_r1 != 15 and SPC.relist_within_days != 60


def test_demo_compresses_only_durations():
    for f in fields(SPC):
        a, b = getattr(SPC, f.name), getattr(DEMO, f.name)
        if f.name == "name" or isinstance(a, timedelta):
            continue
        assert a == b, f"demo changed the non-duration rule {f.name}"
    assert DEMO.min_bidding_period < SPC.min_bidding_period
    assert DEMO.days(30) < timedelta(minutes=10)
    assert get_rulebook("demo") is DEMO
    with pytest.raises(ValueError):
        get_rulebook("nope")
