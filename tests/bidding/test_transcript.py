"""The bid transcript (竞价记录): public and sealed versions, rendered from a real round.

Bids go through ``place_bid`` with a clock set by hand: on SQLite it is the bid time, on
PostgreSQL it is the offset added to ``clock_timestamp()`` (so the time lands within
milliseconds of the one asked for), which lets the same tests run on both databases.
"""
from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from auction import services as auction_services
from auction.rules import RoundState
from bidding import services
from bidding.transcript import issue_transcripts, public_context, render_transcript, transcript_context
from core.audit import AuditStream
from core.calendar import WorkCalendar
from core.context import Context
from core.files import FileStore
from core.models import Document
from core.rulebook import SPC
from tests.auction.test_services import published_lot
from tests.factories import VAULT, make_bidder, make_case, make_priced_asset, make_user, resident_id

BASE = "http://test"


class SetClock:
    """Bids at the time the test says (exactly on SQLite, within ms on PostgreSQL)."""

    def __init__(self, t: datetime):
        self.t = t

    def now(self) -> datetime:
        return self.t

    def offset(self) -> timedelta:
        return self.t - datetime.now(timezone.utc)


@pytest.fixture
def ctx(now, tmp_path):
    return Context(now=now, rulebook=SPC, calendar=WorkCalendar(), vault=VAULT, store=FileStore(tmp_path / "f"),
                   base_url=BASE)


@pytest.fixture
def open_round(session, ctx):
    case = make_case(session)
    world = {"case": case, "officer": case.officer, "asset": make_priced_asset(session, case)}
    _, rnd = published_lot(session, world, ctx)
    auction_services.run_due(session, replace(ctx, now=rnd.start_at))
    assert rnd.state == RoundState.BIDDING
    return rnd


def qualified(session, rnd, ctx, *, real_name: str, id_number: str):
    bidder = make_bidder(session, real_name=real_name, id_number=id_number)
    reg = services.register(session, user=bidder, round_id=rnd.id, housing_promise=True, ctx=ctx)
    dep = services.declare_bank_transfer(session, user=bidder, registration_id=reg.id, payer_name=real_name,
                                         bank_reference="工行 6222 0001", ctx=ctx)
    finance = make_user(session, "finance", court_id=rnd.lot.case.court_id)
    services.confirm_bank_transfer(session, finance=finance, deposit_id=dep.id, ctx=ctx)
    return bidder, reg


def bid(session, user, rnd, amount, key, ctx, when):
    return services.place_bid(session, user=user, round_id=rnd.id, amount=Decimal(amount), idempotency_key=key,
                              ctx=ctx, clock=SetClock(when))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(data: bytes) -> str:
    return squash("".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def head_hash(session, round_id: int) -> str:
    return session.execute(select(AuditStream.head_hash).where(AuditStream.name == f"round:{round_id}")).scalar_one()


@pytest.fixture
def closed_round(session, ctx, open_round):
    """Two bidders, three bids, the last one in the final two minutes (extends by 5), closed."""
    rnd = open_round
    ids = {"赵竞买人": resident_id(serial=311), "钱竞买人": resident_id(serial=322)}
    a, reg_a = qualified(session, rnd, ctx, real_name="赵竞买人", id_number=ids["赵竞买人"])
    b, reg_b = qualified(session, rnd, ctx, real_name="钱竞买人", id_number=ids["钱竞买人"])
    scheduled_end = rnd.end_at
    bid(session, a, rnd, "700000", "1", ctx, rnd.start_at + timedelta(hours=1))
    bid(session, b, rnd, "705000", "2", ctx, rnd.start_at + timedelta(hours=2))
    receipt = bid(session, a, rnd, "710000", "3", ctx, scheduled_end - timedelta(minutes=2))
    assert receipt.extended
    assert services.run_due(session, replace(ctx, now=rnd.end_at)) == 1
    return {"round": rnd, "codes": (reg_a.code, reg_b.code), "ids": ids, "scheduled_end": scheduled_end,
            "final_end": receipt.end_at}


def test_the_public_transcript_shows_bids_extension_outcome_and_ledger_head(session, closed_round):
    rnd = closed_round["round"]
    code_a, code_b = closed_round["codes"]
    pdf = render_transcript(session, rnd.id, base_url=BASE, sealed=False)
    text = pdf_text(pdf.data)
    assert "竞价记录" in text and f"竞价-{rnd.lot_id}-{rnd.seq}" in text
    for amount in ("¥700,000.00", "¥705,000.00", "¥710,000.00"):
        assert amount in text
    assert code_a in text and code_b in text
    assert "延时至" in text and "延时记录（共1次）" in text
    assert "起拍价：¥700,000.00" in text and "加价幅度：¥5,000.00" in text and "保证金：¥70,000.00" in text
    assert "5分钟" in text
    assert f"成交。买受人竞买代码：{code_a}；成交价：¥710,000.00" in text
    assert head_hash(session, rnd.id) in text
    # Server times to the millisecond, Beijing time.
    end_local = closed_round["final_end"].astimezone(timezone(timedelta(hours=8)))
    assert end_local.strftime("%Y-%m-%d%H:%M:%S.") in text
    # Not a table: rows of blocks (up to ten lines a block), a heading, one block of bids and
    # one of extensions.
    assert "<table" not in pdf.html and pdf.html.count('<div class="row">') == 2
    assert pdf.html.count('<div class="row head">') == 2


def test_the_public_transcript_has_no_real_name_nor_identity_number(session, closed_round):
    rnd = closed_round["round"]
    public = render_transcript(session, rnd.id, base_url=BASE, sealed=False)
    text = pdf_text(public.data)
    for name, number in closed_round["ids"].items():
        assert name not in text and name not in public.html
        assert number not in text and number[-4:].rjust(18, "*") not in text
    assert "附件" not in text and "*" * 14 not in text


def test_the_sealed_transcript_adds_the_code_to_identity_annex(session, closed_round):
    rnd = closed_round["round"]
    code_a, code_b = closed_round["codes"]
    sealed = render_transcript(session, rnd.id, base_url=BASE, sealed=True)
    text = pdf_text(sealed.data)
    assert "法院存档本" in text and "竞买代码与竞买人身份对照表" in text
    for name, number in closed_round["ids"].items():
        assert name in text
        assert number[-4:].rjust(18, "*") in text and number not in text  # masked, never whole
    assert code_a in text and code_b in text and head_hash(session, rnd.id) in text
    # The record itself (rules, bids, extensions, outcome) is the same in both versions.
    public = pdf_text(render_transcript(session, rnd.id, base_url=BASE, sealed=False).data)
    record = public[public.index("一、竞价规则"):public.index("五、审计账本")]
    assert record in text


def test_the_context_says_from_when_to_when_each_extension_moved_the_end(session, closed_round):
    rnd = closed_round["round"]
    context = transcript_context(session, rnd.id, sealed=False)
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    beijing = timezone(timedelta(hours=8))
    assert context["rules"]["scheduled_end"] == closed_round["scheduled_end"].astimezone(beijing).strftime(fmt)[:-3]
    assert context["rules"]["final_end"] == closed_round["final_end"].astimezone(beijing).strftime(fmt)[:-3]
    [ext] = context["extensions"]
    assert ext["seq"] == 3 and ext["from"] == context["rules"]["scheduled_end"]
    assert ext["to"] == context["rules"]["final_end"]
    assert [b["extended"] for b in context["bids"]] == [False, False, True]
    assert context["annex"] == [] and public_context({**context, "annex": [1]})["annex"] == []


def test_a_round_without_bids_is_recorded_as_unsold(session, ctx, open_round):
    rnd = open_round
    qualified(session, rnd, ctx, real_name="孙未出价", id_number=resident_id(serial=333))
    services.run_due(session, replace(ctx, now=rnd.end_at))
    public = pdf_text(render_transcript(session, rnd.id, base_url=BASE, sealed=False).data)
    assert "结果：流拍" in public and "本轮无人出价" in public and "无延时" in public
    assert "孙未出价" not in public
    sealed = pdf_text(render_transcript(session, rnd.id, base_url=BASE, sealed=True).data)
    assert "孙未出价" in sealed


def test_issue_transcripts_files_both_versions_in_the_case_file(session, ctx, closed_round):
    rnd = closed_round["round"]
    head = head_hash(session, rnd.id)
    docs = issue_transcripts(session, rnd.id, ctx=replace(ctx, now=rnd.end_at + timedelta(seconds=5)))
    assert docs.sealed.public is False and docs.public.public is True
    assert docs.sealed.sha256 != docs.public.sha256
    for doc in docs:
        assert doc.subject == f"case:{rnd.lot.case_id}" and doc.reference == f"竞价-{rnd.lot_id}-{rnd.seq}"
        assert doc.id is not None and ctx.store.exists(doc.sha256)
    assert {d.kind for d in docs} == {"bid_transcript", "bid_transcript_sealed"}
    public_text = pdf_text(ctx.store.read(docs.public.sha256))
    assert head in public_text and "赵竞买人" not in public_text
    assert "赵竞买人" in pdf_text(ctx.store.read(docs.sealed.sha256))
    assert head_hash(session, rnd.id) == head  # issuing writes to the case stream, not the round's
    listed = session.scalars(select(Document).where(Document.subject == f"case:{rnd.lot.case_id}",
                                                    Document.kind.like("bid_transcript%"))).all()
    assert len(listed) == 2


def test_long_logs_are_rows_of_ten_line_blocks_not_a_table(session, closed_round):
    from bidding.transcript import TEMPLATE
    from core.pdf import render_html

    context = transcript_context(session, closed_round["round"].id, sealed=False)
    one = context["bids"][0]
    context["bids"] = [{**one, "seq": i} for i in range(1, 24)]
    html = render_html(TEMPLATE, context, public_base_url=BASE)
    blocks = re.findall(r'<div class="row">(.*?)</div>', html, flags=re.S)
    assert "<table" not in html
    assert [len(b.split("\n")) for b in blocks[:3]] == [10, 10, 3]  # then the extension block
    assert blocks[0].split("\n")[0].startswith("1      " + one["code"])


def test_the_due_source_files_each_closed_round_once(session, ctx, closed_round):
    from bidding.transcript import issue_due_transcripts

    rnd = closed_round["round"]
    later = replace(ctx, now=rnd.closed_at + timedelta(seconds=2))
    assert issue_due_transcripts(session, replace(later, now=rnd.closed_at - timedelta(seconds=1))) == 0
    assert issue_due_transcripts(session, later) == 1
    assert issue_due_transcripts(session, later) == 0
    docs = session.scalars(select(Document).where(Document.reference == f"竞价-{rnd.lot_id}-{rnd.seq}")).all()
    assert sorted((d.kind, d.public) for d in docs) == [("bid_transcript", True), ("bid_transcript_sealed", False)]
    assert issue_due_transcripts(session, replace(later, store=None)) == 0
