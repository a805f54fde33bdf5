"""The app factory and core pages."""
from __future__ import annotations

import threading

from core import create_app
from tests.conftest import app_config


def test_creating_the_app_starts_nothing(db_url, tmp_path):
    before = {t.name for t in threading.enumerate()}
    app = create_app(app_config(db_url, tmp_path / "instance"))
    after = {t.name for t in threading.enumerate()}
    assert after == before, "create_app started a thread (a scheduler at import?)"
    assert app.extensions["database"]._engine is None  # no connection made either


def test_the_home_page_is_chinese_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "English" in html  # the switch is on every page


def test_healthz_answers_json(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json["database"] == "ok" and "version" in r.json


def test_unknown_documents_are_not_found(client):
    assert client.get("/documents/" + "0" * 64).status_code == 404


def test_api_errors_are_json(client):
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and r.json["error"]["code"] == 401
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json["error"]["code"] == 404
