"""Decision 13 and DESIGN.md §5: while a round is open, nobody — the public, the officer of the
case, supervisors, the administrator, the court's finance officer once it has confirmed the
deposits, the other bidder — learns who registered for or bid on a lot, nor how many
registered; not on a page, an API answer, the live stream, the JSON book, the audit ledger or
a log line. Each bidder sees only itself.

Two qualified bidders with distinctive names, usernames, e-mails and ID numbers bid against
each other (one signed up and paid through the pages, the other through the services); then
every page is fetched by every kind of viewer and searched for what identifies them. A third
bidder then registers and pays (without bidding): no page may change, which is how "no count
of registrants" is checked without guessing how a count might be written.

The administrator's user list (``/accounts/admin/users``) is not fetched: it lists every
account of the platform, unrelated to any lot, by design.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

import pytest
from flask import render_template_string
from sqlalchemy import select

from accounts import services as account_services
from accounts.models import Role
from auction import labels
from auction.models import Round
from core.audit import AuditEntry
from auction.views import register_pages as register_auction_pages
from bidding import live
from bidding.views import register_pages
from tests.bidding.test_views import client_for, open_round, place, post, qualified, read_events, real_now
from tests.factories import make_bidder, make_user, resident_id


@pytest.fixture
def app(app_factory):
    app = app_factory(LIVE_KEEPALIVE_SECONDS=0.3, LIVE_RECONCILE_SECONDS=0.05)
    register_auction_pages(app)
    register_pages(app)
    yield app
    live.shutdown(app)


@dataclass
class Person:
    user: object
    real_name: str
    id_number: str

    @property
    def secrets(self) -> list[str]:
        u = self.user
        return [self.real_name, self.id_number, u.username, u.email]

    def id_patterns(self) -> list[re.Pattern]:
        return [re.compile(rf"\buser[_:/ =\"-]*{self.user.id}\b", re.IGNORECASE),
                re.compile(rf"/users/{self.user.id}\b")]


def leaks(text: str, people: list[Person]) -> list[str]:
    found = []
    for p in people:
        found += [f"{s!r} of {p.real_name}" for s in p.secrets if s and s in text]
        found += [f"user id of {p.real_name} ({pat.pattern})" for pat in p.id_patterns() if pat.search(text)]
    return found


_VOLATILE = [
    (re.compile(r'value="[A-Za-z0-9._-]{32,}"'), 'value="*"'),  # CSRF tokens, idempotency keys
    (re.compile(r'data-now-ms="\d+"'), 'data-now-ms="*"'),
    (re.compile(r'"now_ms":\s?\d+'), '"now_ms":*'),
    (re.compile(r'data-seconds="\d+"'), 'data-seconds="*"'),
]


def normalized(text: str) -> str:
    for pattern, repl in _VOLATILE:
        text = pattern.sub(repl, text)
    return text


@pytest.fixture
def scene(app, session, tmp_path):
    rnd = open_round(session, tmp_path)
    case = rnd.lot.case
    court_id = case.court_id
    alpha_number, beta_number = resident_id(birth="19770707"), resident_id(birth="19881212")
    alpha_user, _reg = qualified(session, rnd, tmp_path, real_name="赵隐名", username="anon_alpha_zhao",
                                 email="alpha.hidden@example.cn", id_number=alpha_number)
    beta_user = make_bidder(session, real_name="钱匿迹", username="anon_beta_qian", email="beta.hidden@example.cn",
                            id_number=beta_number)
    finance = make_user(session, Role.FINANCE, court_id=court_id, username="finance_of_the_court")
    supervisor = make_user(session, Role.SUPERVISOR, username="supervisor_one")
    admin = make_user(session, Role.ADMIN, username="admin_one")
    officer = case.officer
    token = account_services.issue_api_token(session, user=officer, name="anonymity", now=real_now())
    admin_token = account_services.issue_api_token(session, user=admin, name="anonymity", now=real_now())
    session.commit()
    return {"rnd": rnd, "case": case, "alpha": Person(alpha_user, "赵隐名", alpha_number),
            "beta": Person(beta_user, "钱匿迹", beta_number), "finance": finance, "supervisor": supervisor,
            "admin": admin, "officer": officer, "token": token, "admin_token": admin_token}


def fetch_all(app, s) -> dict[tuple[str, str], str]:
    """Every page, API answer, stream and book a viewer can reach about the lot: ``(viewer,
    path) → text``."""
    rnd, case = s["rnd"], s["case"]
    lot_id, rid = rnd.lot_id, rnd.id
    public = ["/", "/auction/lots", f"/auction/lots/{lot_id}", f"/bidding/rounds/{rid}/book.json",
              "/api/v1/lots", f"/api/v1/lots/{lot_id}"]
    staff = [f"/auction/lots/{lot_id}", "/auction/", f"/auction/lots/{lot_id}/manage", f"/cases/{case.id}", "/cases/",
             f"/bidding/rounds/{rid}/book.json"]
    api = [f"/api/v1/lots/{lot_id}", "/api/v1/auction/alerts", f"/api/v1/cases/{case.id}", f"/api/v1/cases/{case.id}/funds"]
    viewers = {
        "public": (None, public),
        "officer": (s["officer"].username, staff),
        "supervisor": (s["supervisor"].username, staff),
        "admin": (s["admin"].username, [f"/auction/lots/{lot_id}", "/accounts/admin/courts", "/accounts/admin/calendar",
                                         f"/bidding/rounds/{rid}/book.json"]),
        "finance": (s["finance"].username, ["/bidding/finance", f"/auction/lots/{lot_id}", "/auction/"]),
        "alpha": (s["alpha"].user.username, [f"/bidding/rounds/{rid}", "/bidding/my", f"/auction/lots/{lot_id}"]),
        "beta": (s["beta"].user.username, [f"/bidding/rounds/{rid}", "/bidding/my", f"/auction/lots/{lot_id}"]),
    }
    pages = {}
    for viewer, (username, paths) in viewers.items():
        c = client_for(app, username)
        for path in paths:
            r = c.get(path)
            assert r.status_code == 200, f"{viewer} {path}: {r.status_code}"
            pages[(viewer, path)] = r.get_data(as_text=True)
        stream = c.get(f"/bidding/rounds/{rid}/events?after=0", buffered=False)
        messages = read_events(stream, until=lambda m: any(k == "state" for _i, k, _d in m))
        stream.close()
        pages[(viewer, "events")] = json.dumps(messages, ensure_ascii=False)
    for viewer, token in (("officer", s["token"]), ("admin", s["admin_token"])):
        c = app.test_client()
        for path in api:
            r = c.get(path, headers={"Authorization": f"Bearer {token}"})
            if r.status_code == 200:
                pages[(f"{viewer}-api", path)] = r.get_data(as_text=True)
    with app.test_request_context("/"):
        from core.web import db_session

        pages[("public", "lot page live panel")] = render_template_string(
            '{% include "bidding/_panel.html" %}', rnd=db_session().get(Round, rid), labels=labels)
    return pages


def test_nobody_learns_who_registered_or_bid_nor_how_many_registered(app, session, scene, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    s = scene
    rnd = s["rnd"]
    alpha, beta = s["alpha"], s["beta"]

    # Beta signs up and pays through the pages; the finance officer confirms through the page.
    cb = client_for(app, beta.user.username)
    signup = f"/bidding/rounds/{rnd.id}/signup"
    assert post(cb, signup, {"accept": "y", "housing_promise": "y"}, page=signup).status_code == 302
    assert post(cb, f"/bidding/rounds/{rnd.id}/deposit", {"payer_name": beta.real_name, "bank_reference": "建行 1234"},
                page=f"/bidding/rounds/{rnd.id}").status_code == 302
    cf = client_for(app, s["finance"].username)
    finance_page = cf.get("/bidding/finance").get_data(as_text=True)
    assert beta.real_name in finance_page  # decision 21: the finance role sees the payer, to confirm
    deposit_id = int(re.search(r'id="deposit-(\d+)"', finance_page).group(1))
    assert post(cf, f"/bidding/finance/deposits/{deposit_id}/confirm", {}, page="/bidding/finance").status_code == 302

    # Both bid, against each other.
    ca = client_for(app, alpha.user.username)
    for c, amount in ((ca, "700000"), (cb, "705000"), (ca, "710000")):
        assert place(c, rnd, amount).status_code == 302
    assert ca.get(f"/bidding/rounds/{rnd.id}/book.json").get_json()["price"] == "710000.00"

    pages = fetch_all(app, s)
    problems = []
    for (viewer, path), text in pages.items():
        others = [p for name, p in (("alpha", alpha), ("beta", beta)) if name != viewer]
        problems += [f"{viewer} {path}: {leak}" for leak in leaks(text, others)]
    assert problems == []
    # Each bidder does see itself (the check above would catch a page that shows nobody anything).
    assert alpha.real_name in pages[("alpha", f"/bidding/rounds/{rnd.id}")]

    # The ledger: the entries of the lot, its round and its case name nobody (codes and the
    # finance officer only); no entry anywhere holds a bidder's name, number, username or e-mail.
    # (A bidder's own account stream, ``user:<id>``, records its logins: nothing about the lot.)
    entries = session.scalars(select(AuditEntry)).all()
    about_the_lot = [e for e in entries if e.stream in (f"round:{rnd.id}", f"lot:{rnd.lot_id}", f"case:{s['case'].id}")]
    assert "bid.placed" in {e.action for e in about_the_lot}
    # Nothing in the public streams of the lot lets anyone count registrations or deposits.
    assert not {"registration.created", "deposit.confirmed"} & {e.action for e in about_the_lot}
    assert leaks("\n".join(f"{e.actor} {e.subject} {e.payload}" for e in about_the_lot), [alpha, beta]) == []
    everything = "\n".join(f"{e.stream} {e.actor} {e.subject} {e.payload}" for e in entries)
    assert [x for p in (alpha, beta) for x in p.secrets if x in everything] == []

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert leaks(logged, [alpha, beta]) == []

    # A third bidder registers and pays. Nothing anybody sees may change (no count, decision 13).
    qualified(session, rnd, tmp_path, real_name="孙第三", username="anon_gamma_sun", email="gamma.hidden@example.cn")
    session.commit()
    after = fetch_all(app, s)
    changed = [key for key in pages if normalized(pages[key]) != normalized(after[key])]
    assert changed == [], _first_difference(pages, after, changed)
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "孙第三" not in logged and "anon_gamma_sun" not in logged


def _first_difference(before: dict, after: dict, keys: list) -> str:
    if not keys:
        return ""
    a, b = normalized(before[keys[0]]), normalized(after[keys[0]])
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"{keys}: first difference in {keys[0]}: …{a[max(0, i - 120):i + 120]!r}… vs …{b[max(0, i - 120):i + 120]!r}…"
