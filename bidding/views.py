"""Pages of the ``bidding`` package: signing up, deposits, bidding, the finance officer's
deposits and refunds, and the live book of a round.

================================================  ==============================================
``/bidding/my``                                   bidder: my registrations, codes and deposits
``/bidding/rounds/<id>/signup``                   bidder: sign up for a round (S4 promise)
``/bidding/rounds/<id>``                          bidder: deposit, code, live book, bid, receipt
``/bidding/rounds/<id>/deposit``                  bidder: declare a bank transfer (POST, A22)
``/bidding/rounds/<id>/bids``                     bidder: place a bid (POST, A26–A29)
``/bidding/gateway/<registration_id>``            bidder: the simulated payment gateway (dev only)
``/bidding/gateway/callback``                     gateway: signed deposit callback (POST, no CSRF)
``/bidding/finance``                              finance: transfers to confirm, refunds due/late
``/bidding/finance/deposits/<id>/confirm``        finance: confirm a transfer (POST, decision 21)
``/bidding/finance/deposits/<id>/refund``         finance: a bank refund was made (POST, decision 9)
``/bidding/rounds/<id>/events``                   PUBLIC: live events (Server-Sent Events, A30)
``/bidding/rounds/<id>/book.json``                PUBLIC: the live book as JSON (polling fallback)
================================================  ==============================================

Every handler parses, checks access (unknown or unpublished → 404, not allowed → 403), calls
one use case of :mod:`bidding.services` and shows its refusal in the user's words. The public
routes show codes, amounts and times only, never who registered or how many did (decision 13).
A read of a round whose end has passed closes it first if nobody has (the bid page, the book,
the stream), so no page ever shows an ended round as open.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime

from flask import (
    Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for,
)
from flask import session as cookie
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.access import roles_required
from accounts.models import Role
from auction import labels
from auction.models import Lot, Round
from auction.rules import RoundState
from bidding import live, rules, services
from bidding.forms import BankTransferForm, BidForm, EmptyForm, SignupForm
from bidding.models import Bid, Book, Deposit, Registration
from core.context import context_for
from core.i18n import translate_error, translate_message
from core.text import DomainError
from core.web import db_session, now

bp = Blueprint("bidding", __name__, url_prefix="/bidding")

#: Where a bid may be placed (the service decides; the page only offers the form).
BIDDING_STATES = services.BIDDING_STATES
#: A bid is accepted until this many bytes of callback body; gateways send a few hundred.
MAX_CALLBACK_BYTES = 8192


@bp.record_once
def _exempt_the_callback(state) -> None:
    # Gateways post from their servers with a signature, not from a form of this site.
    state.app.extensions["csrf"].exempt(gateway_callback)


# --- request plumbing -----------------------------------------------------------------------


def _ctx():
    return context_for(current_app, db_session(), now())


def _me():
    return current_user._get_current_object()


def _invalid(form) -> None:
    """Flash every validation error of a posted form; nothing was changed."""
    db_session().rollback()
    shown = False
    for f in form:
        for error in f.errors:
            flash(f"{f.label.text}{_(': ')}{error}" if f.label.text else str(error), "error")
            shown = True
    if not shown:
        flash(_("The form was incomplete; nothing was changed."), "error")


def _call(use_case, **kwargs):
    """Run one use case at the platform's time.

    A refusal is rolled back and flashed, and ``None`` returned.
    :raise 404: the use case did not find the object; :raise 403: not allowed.
    """
    try:
        return use_case(db_session(), ctx=_ctx(), **kwargs)
    except services.NotFound:
        db_session().rollback()
        abort(404)
    except services.NotAllowed:
        db_session().rollback()
        abort(403)
    except DomainError as exc:
        db_session().rollback()
        flash(translate_error(exc), "error")
        return None


def _production() -> bool:
    return current_app.config["ENV"] == "production"


def _gateway_secret() -> str | None:
    """The secret shared with the payment gateway. Outside production a development secret
    derived from the session key stands in when none is configured (the simulator signs with
    it); in production it must be configured."""
    secret = current_app.config.get("GATEWAY_SECRET")
    if secret or _production():
        return secret or None
    return rules.gateway_signature(current_app.config["SECRET_KEY"], timestamp="dev", body=b"gateway-simulator")


# --- loading with access checks ---------------------------------------------------------------


def _published_round(round_id: int) -> Round:
    """:raise 404: unknown, or not published (a draft's bidding pages do not exist)."""
    rnd = db_session().get(Round, round_id)
    if rnd is None or rnd.published_at is None:
        abort(404)
    return rnd


def _close_if_due(rnd: Round) -> Round:
    return services.close_if_due(db_session(), rnd, _ctx(), clock=current_app.extensions["clock"])


def _my_registration(rnd: Round) -> Registration | None:
    return services.my_registration(db_session(), user=_me(), round_id=rnd.id)


def _own_registration(registration_id: int) -> Registration:
    """:raise 404: unknown, or another bidder's (never reveal that it exists)."""
    reg = db_session().get(Registration, registration_id)
    if reg is None or reg.user_id != current_user.id:
        abort(404)
    return reg


def _court_deposit(deposit_id: int) -> Deposit:
    """A deposit for the finance officer. :raise 404: unknown; the service answers 403 for a
    deposit of another court."""
    dep = db_session().get(Deposit, deposit_id)
    if dep is None:
        abort(404)
    return dep


# --- what the pages show --------------------------------------------------------------------


def deposit_state_label(state: str | None) -> str:
    return {
        None: _("Not paid yet"), "pending": _("Declared, waiting for the court's confirmation"),
        "held": _("Held: you are qualified to bid"), "refunded": _("Refunded"),
        "forfeited": _("Forfeited (A40)"), "applied": _("Counted toward the price (A36)"),
    }.get(None if state is None else str(state), str(state))


def _live_labels() -> dict:
    """The words the page's script writes (it has no catalogue of its own)."""
    return {
        "states": {str(s): labels.state_label(s) for s in RoundState},
        "no_bid": _("No bid yet"), "you_lead": _("you lead"), "ends_in": _("Bidding ends in"),
        "starts_in": _("Bidding starts in"), "time_up": _("Time is up: closing the round…"),
        "day": _("1 day"), "days": _("%(n)s days", n="#"),
        "ahead": _("Your device's clock is %(s)s ahead of the server's; the countdown follows the server.", s="#"),
        "behind": _("Your device's clock is %(s)s behind the server's; the countdown follows the server.", s="#"),
        "in_step": _("Your device's clock agrees with the server's (within 0.5 s)."),
        "live": _("Live"), "reconnecting": _("Reconnecting…"), "polling": _("Updating every few seconds"),
        "extended": _("extended (A28)"),
        "sold": _("Sold at %(price)s, winning bidder code %(code)s.", price="#price", code="#code"),
        "unsold": _("No bid: no sale (流拍, A42)."), "you_won": _("You won: the court will contact you (A34, A39)."),
        "over": _("This round is over."),
        "refund": _("Your deposit is refunded within 24 hours of the close (A36, A37)."),
    }


def _live_context(rnd: Round, *, my_code: str | None) -> dict:
    """The live book of a round as the page starts it: the view, the latest bids, the server's
    time (the script's clock), the URLs of the stream and of the JSON book."""
    session = db_session()
    view = live.round_view(session, rnd.id)
    book = services.public_book(session, rnd.id)
    extended = session.scalar(select(Bid.id).where(Bid.round_id == rnd.id, Bid.extended_to == rnd.end_at).limit(1))
    return {"round_id": rnd.id, "view": view, "bids": book["bids"], "now_ms": live.ms(now()), "my_code": my_code,
            "extended": extended is not None, "start_at": rnd.start_at, "end_at": rnd.end_at, "sale_price": rnd.sale_price, "buyer_code": rnd.buyer_code,
            "events_url": url_for("bidding.events", round_id=rnd.id),
            "book_url": url_for("bidding.book_json", round_id=rnd.id),
            "starting_price": rnd.starting_price, "increment": rnd.increment, "labels": _live_labels(),
            "bidding_states": sorted(str(s) for s in BIDDING_STATES)}


def _next_amounts(rnd: Round, reg: Registration) -> list:
    book = db_session().get(Book, rnd.id)
    return rules.next_valid_amounts(rules.Book(
        starting_price=rnd.starting_price, increment=rnd.increment, current_price=book.current_price if book else None,
        end_at=rnd.end_at, leader_rank=book.leader_rank if book else None), count=3, priority_rank=reg.priority_rank)


def _receipt_for(rnd: Round) -> dict | None:
    """The receipt of the last bid posted from this browser on this round, shown once."""
    data = cookie.pop("bidding_receipt", None)
    if not isinstance(data, dict) or data.get("round_id") != rnd.id:
        return None
    for key in ("received_at", "end_at"):
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    if not data.get("accepted"):
        data["reason"] = translate_message(data.get("message", ""), data.get("params") or {})
    return data


def _bid_page(rnd: Round, reg: Registration, *, bank_form: BankTransferForm | None = None):
    lot = rnd.lot
    dep = reg.deposit
    qualified = reg.qualified_at is not None
    t = now()
    can_bid = qualified and rnd.state in BIDDING_STATES and t < rnd.end_at
    amounts = _next_amounts(rnd, reg) if qualified and rnd.state in BIDDING_STATES else []
    bid_form = BidForm(formdata=None, data={"idempotency_key": uuid.uuid4().hex,
                                            "amount": amounts[0] if amounts else None})
    if bank_form is None:
        bank_form = BankTransferForm(formdata=None, data={
            "payer_name": (dep.payer_name if dep is not None and dep.payer_name else None)
            or (_me().identity.real_name if _me().identity else ""),
            "bank_reference": dep.bank_reference if dep is not None else ""})
    return render_template(
        "bidding/bid.html", rnd=rnd, lot=lot, case=lot.case, reg=reg, dep=dep, qualified=qualified,
        due=services.deposit_amount(db_session(), reg), can_bid=can_bid, amounts=amounts, bid_form=bid_form,
        bank_form=bank_form, simulator=not _production(), receipt=_receipt_for(rnd), labels=labels,
        deposit_state_label=deposit_state_label, live=_live_context(rnd, my_code=reg.code if qualified else None),
        over=live.is_over(rnd.state, rnd.closed_at))


def _book_json(rnd: Round) -> dict:
    book = services.public_book(db_session(), rnd.id)
    view = live.round_view(db_session(), rnd.id)
    return {**view, "round_id": rnd.id, "now_ms": live.ms(now()), "bid_count": book["bid_count"],
            "bids": [{"seq": b["seq"], "code": b["code"], "amount": str(b["amount"]),
                      "at": b["at"].isoformat(timespec="milliseconds"), "at_ms": live.ms(b["at"]),
                      "extended": b["extended"]} for b in book["bids"]]}


# --- the bidder's pages ---------------------------------------------------------------------------


@bp.get("/my")
@roles_required(Role.BIDDER)
def my():
    """The rounds I signed up for, newest first, with my code and my deposit."""
    regs = db_session().scalars(select(Registration).where(Registration.user_id == current_user.id)
                                .order_by(Registration.created_at.desc(), Registration.id.desc())).all()
    rows = [(reg, db_session().get(Round, reg.round_id)) for reg in regs]
    return render_template("bidding/my.html", rows=rows, labels=labels, deposit_state_label=deposit_state_label)


@bp.route("/rounds/<int:round_id>/signup", methods=["GET", "POST"])
@roles_required(Role.BIDDER)
def signup(round_id: int):
    """Sign up for a published round; housing needs the purchase promise (S4, decision 18).
    Someone already signed up goes to the bid page.

    :raise 404: unknown or unpublished round; :raise 403: the account has no verified real name
    """
    rnd = _published_round(round_id)
    if _my_registration(rnd) is not None:
        return redirect(url_for("bidding.bid_page", round_id=rnd.id))
    form = SignupForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            _invalid(form)
        elif _call(services.register, user=_me(), round_id=rnd.id,
                   housing_promise=bool(form.housing_promise.data) and rnd.lot.housing) is not None:
            flash(_("You are signed up. Pay the deposit to receive your bidder code (A20, A23)."), "success")
            return redirect(url_for("bidding.bid_page", round_id=rnd.id))
    return render_template("bidding/signup.html", rnd=rnd, lot=rnd.lot, case=rnd.lot.case, form=form, labels=labels,
                           due=rnd.starting_price if rnd.kind == "variation" else rnd.deposit,
                           open=rnd.state in services.OPEN_FOR_SIGNUP and now() < rnd.end_at)


@bp.get("/rounds/<int:round_id>")
@roles_required(Role.BIDDER)
def bid_page(round_id: int):
    """My bid page: the deposit and how to pay it, then my code, the live book, the next valid
    amounts, the bid form and the receipt of my last bid.

    :raise 404: unknown or unpublished round
    """
    rnd = _published_round(round_id)
    reg = _my_registration(rnd)
    if reg is None:
        return redirect(url_for("bidding.signup", round_id=rnd.id))
    _close_if_due(rnd)
    return _bid_page(rnd, reg)


@bp.post("/rounds/<int:round_id>/deposit")
@roles_required(Role.BIDDER)
def declare_transfer(round_id: int):
    """I transferred the deposit to the court's account: payer and bank reference (A22). The
    court's finance officer confirms it (decision 21). :raise 404:"""
    rnd = _published_round(round_id)
    reg = _my_registration(rnd)
    if reg is None:
        abort(404)
    form = BankTransferForm()
    if not form.validate_on_submit():
        _invalid(form)
        return _bid_page(rnd, reg, bank_form=form)
    if _call(services.declare_bank_transfer, user=_me(), registration_id=reg.id, payer_name=form.payer_name.data,
             bank_reference=form.bank_reference.data) is None:
        return _bid_page(rnd, reg, bank_form=form)
    flash(_("Your transfer is declared. The court's finance officer confirms it; then you receive your bidder "
            "code."), "success")
    return redirect(url_for("bidding.bid_page", round_id=rnd.id) + "#deposit")


@bp.post("/rounds/<int:round_id>/bids")
@roles_required(Role.BIDDER)
def place_bid(round_id: int):
    """Place a bid. Its time is the server's receipt (A29); a repeat of the same form (same
    idempotency key) returns the first receipt and makes no second bid. The receipt, accepted
    or refused with the rule's words, is shown on the bid page.

    :raise 404: unknown round; :raise 403: not signed up for it
    """
    rnd = _published_round(round_id)
    back = redirect(url_for("bidding.bid_page", round_id=rnd.id) + "#receipt")
    form = BidForm()
    if not form.validate_on_submit():
        _invalid(form)
        return back
    try:
        got = services.place_bid(db_session(), user=_me(), round_id=rnd.id, amount=form.amount.data,
                                 idempotency_key=form.idempotency_key.data, ctx=_ctx(),
                                 clock=current_app.extensions["clock"])
    except services.NotFound:
        abort(404)
    except services.NotAllowed:
        abort(403)
    except DomainError as exc:
        db_session().rollback()
        cookie["bidding_receipt"] = {"round_id": rnd.id, "accepted": False, "amount": str(form.amount.data),
                                     "message": exc.message, "params": {k: str(v) for k, v in exc.params.items()}}
        return back
    cookie["bidding_receipt"] = {
        "round_id": rnd.id, "accepted": True, "amount": str(got.amount), "seq": got.seq,
        "received_at": got.received_at.isoformat(), "end_at": got.end_at.isoformat(), "extended": got.extended,
        "duplicate": got.duplicate}
    return back


# --- deposits online: the gateway and its development simulator ---------------------------------------


def _accept_callback(*, timestamp: str, body: bytes, signature: str):
    """One gateway callback through the service; returns ``(deposit, None)`` or ``(None,
    (status, msgid))``."""
    secret = _gateway_secret()
    if not secret:
        return None, (503, "The payment gateway is not configured.")
    try:
        return services.gateway_callback(db_session(), secret=secret, timestamp=timestamp, body=body,
                                         signature=signature, ctx=_ctx()), None
    except services.NotFound:
        db_session().rollback()
        return None, (404, services.NotFound.message)
    except DomainError as exc:
        db_session().rollback()
        return None, (400, exc.message)


@bp.post("/gateway/callback")
def gateway_callback():
    """A payment gateway reports a paid deposit: JSON body ``{registration_id, tx, amount,
    payer}``, headers ``X-Timestamp`` and ``X-Signature`` (HMAC-SHA256 of ``timestamp.body``).
    Forged or stale callbacks are refused; a replay changes nothing. No CSRF token: the
    signature is the proof. Answers JSON."""
    body = request.stream.read(MAX_CALLBACK_BYTES + 1)
    if len(body) > MAX_CALLBACK_BYTES:
        return jsonify({"error": {"code": 413, "message": "Body too large."}}), 413
    dep, problem = _accept_callback(timestamp=request.headers.get("X-Timestamp", ""), body=body,
                                    signature=request.headers.get("X-Signature", ""))
    if problem:
        return jsonify({"error": {"code": problem[0], "message": problem[1]}}), problem[0]
    return jsonify({"status": "ok", "deposit": str(dep.state)})


@bp.route("/gateway/<int:registration_id>", methods=["GET", "POST"])
@roles_required(Role.BIDDER)
def gateway_simulator(registration_id: int):
    """Development only: a stand-in for the payment gateway's page. Paying signs a callback
    with the gateway secret and posts it through the same code as a real gateway's.

    :raise 404: in production, or not my registration
    """
    if _production():
        abort(404)
    reg = _own_registration(registration_id)
    rnd = _published_round(reg.round_id)
    amount = services.deposit_amount(db_session(), reg)
    payer = _me().identity.real_name if _me().identity else ""
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            _invalid(form)
        else:
            body = json.dumps({"registration_id": reg.id, "tx": f"SIM-{uuid.uuid4().hex}", "amount": str(amount),
                               "payer": payer}, ensure_ascii=False).encode()
            timestamp = f"{now().timestamp():.3f}"
            signature = rules.gateway_signature(_gateway_secret(), timestamp=timestamp, body=body)
            _dep, problem = _accept_callback(timestamp=timestamp, body=body, signature=signature)
            if problem is None:
                flash(_("Payment received: your deposit is held and you are qualified to bid."), "success")
                return redirect(url_for("bidding.bid_page", round_id=rnd.id))
            flash(translate_message(problem[1]), "error")
    return render_template("bidding/gateway.html", reg=reg, rnd=rnd, lot=rnd.lot, amount=amount, payer=payer,
                           form=form, dep=reg.deposit)


# --- the court's finance officer -----------------------------------------------------------------


@bp.get("/finance")
@roles_required(Role.FINANCE)
def finance():
    """Deposits of my court: bank transfers to confirm (the payer is shown to this role only,
    decision 21; each view and each confirmation is written to the ledger), refunds due within 24 hours and
    those already late (decision 9)."""
    desk = services.finance_desk(db_session(), finance=_me(), ctx=_ctx())
    return render_template("bidding/finance.html", pending=desk.pending, due=desk.due, late=desk.late,
                           rounds=desk.rounds, labels=labels, form=EmptyForm())


@bp.post("/finance/deposits/<int:deposit_id>/confirm")
@roles_required(Role.FINANCE)
def confirm_deposit(deposit_id: int):
    """Confirm a bank transfer: the payer must be the bidder (decision 10); the bidder is then
    qualified and receives its code (A23). :raise 404, 403: another court's deposit"""
    dep = _court_deposit(deposit_id)
    if not EmptyForm().validate_on_submit():
        _invalid(EmptyForm())
    elif _call(services.confirm_bank_transfer, finance=_me(), deposit_id=dep.id) is not None:
        flash(_("The deposit is confirmed; the bidder is qualified and has been sent its code."), "success")
    return redirect(url_for("bidding.finance") + "#pending")


@bp.post("/finance/deposits/<int:deposit_id>/refund")
@roles_required(Role.FINANCE)
def record_refund(deposit_id: int):
    """A bank refund was made (decision 9: within 24 hours of the close). :raise 404, 403:"""
    dep = _court_deposit(deposit_id)
    if not EmptyForm().validate_on_submit():
        _invalid(EmptyForm())
    elif _call(services.record_refund, finance=_me(), deposit_id=dep.id) is not None:
        flash(_("The refund is recorded in the case funds."), "success")
    return redirect(url_for("bidding.finance") + "#refunds")


# --- public: the live book ------------------------------------------------------------------------


@bp.get("/rounds/<int:round_id>/book.json")
def book_json(round_id: int):
    """The public book as JSON: state, end, current price, leading code and the latest 50 bids
    (codes, amounts, server times), with the server's time. Pages poll it when they cannot
    hold a stream. :raise 404:"""
    rnd = _close_if_due(_published_round(round_id))
    response = jsonify(_book_json(rnd))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/rounds/<int:round_id>/events")
def events(round_id: int):
    """Server-Sent Events of a round (see :mod:`bidding.live`). ``Last-Event-ID`` (or
    ``?after=``, the last bid the page shows) re-sends the bids after it from the database
    first. Anyone may watch; nothing identifies a bidder. :raise 404:"""
    rnd = _close_if_due(_published_round(round_id))
    rnd_id, over = rnd.id, live.is_over(rnd.state, rnd.closed_at)
    resumed = live.parse_last_id(request.headers.get("Last-Event-ID"))
    if over and resumed is not None and resumed >= (live.round_view(db_session(), rnd_id) or {}).get("seq", 0):
        return Response(status=204)  # a client coming back after the close saw everything: it stops (SSE spec)
    after = resumed if resumed is not None else live.parse_last_id(request.args.get("after"))
    hub = live.hub_for(current_app)
    db_session().close()  # the stream reads with short sessions of its own; hold no connection
    response = Response(live.stream(hub, round_id=rnd_id, after=after), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy must pass events on at once
    return response


# --- registration ---------------------------------------------------------------------------------


def _panel(rnd: Round | None) -> dict | None:
    """The live book for the public lot page (``bidding/_panel.html``), or ``None`` when the
    round has no bidding to show."""
    if rnd is None or rnd.published_at is None:
        return None
    my_code = None
    if current_user.is_authenticated and current_user.role == Role.BIDDER:
        reg = _my_registration(rnd)
        my_code = reg.code if reg is not None and reg.qualified_at is not None else None
    return _live_context(rnd, my_code=my_code)


def _lot_links(user, lot: Lot, rnd: Round | None) -> list[tuple[str, str]]:
    """"Sign up to bid" / "My bid page" on the public lot page."""
    if rnd is None or rnd.published_at is None or live.is_over(rnd.state, rnd.closed_at):
        return []
    if not user.is_authenticated:
        if rnd.state in services.OPEN_FOR_SIGNUP:
            return [(_("Log in to sign up and bid"), url_for("accounts.login",
                                                              next=url_for("bidding.signup", round_id=rnd.id)))]
        return []
    if user.role != Role.BIDDER:
        return []
    if _my_registration(rnd) is not None:
        return [(_("My bid page"), url_for("bidding.bid_page", round_id=rnd.id))]
    if rnd.state in services.OPEN_FOR_SIGNUP and now() < rnd.end_at:
        return [(_("Sign up to bid"), url_for("bidding.signup", round_id=rnd.id))]
    return []


def register_pages(app) -> None:
    """The navigation entries ("My bids" for bidders, "Deposits" for finance officers), the
    links and the live panel this package adds to the public lot page of ``auction`` (which
    must not import it). Idempotent."""
    if app.extensions.get("bidding_pages"):
        return
    app.extensions["bidding_pages"] = True
    from core.nav import NavEntry, register_nav

    register_nav(app, NavEntry(lambda: _("My bids"), "bidding.my", (Role.BIDDER,), order=20))
    register_nav(app, NavEntry(lambda: _("Deposits and refunds"), "bidding.finance", (Role.FINANCE,), order=20))
    app.extensions.setdefault("lot_links", []).append(_lot_links)
    app.jinja_env.globals["bidding_panel"] = _panel

