"""Case services against a real database."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from cases import rules, services
from cases.models import Asset, AssetFile, Case, FundEntry, Party
from cases.rules import AssetCategory, FundAccount, FundMovement, PartyKind, PartyRole
from cases.services import AssetInput, PartyInput
from core.audit import AuditEntry, verify
from core.files import FileStore
from core.rulebook import SPC
from tests.factories import (
    VAULT, jpeg_bytes, make_asset, make_case, make_court, make_officer, make_user, png_bytes, resident_id, uscc,
)


def parties():
    return [PartyInput(PartyRole.APPLICANT, PartyKind.ENTERPRISE, "芜湖某银行股份有限公司", uscc()),
            PartyInput(PartyRole.DEBTOR, PartyKind.PERSON, "王某", resident_id(), phone="13800000009",
                       address="芜湖市镜湖区某路1号")]


def test_an_officer_registers_a_case_of_their_court(session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    case = services.create_case(session, actor=officer, number="(2026)皖02执123号", basis="（2025）皖0202民初456号",
                                filed_on=date(2026, 3, 1), claim_amount=Decimal("1200000"), parties=parties(),
                                vault=VAULT, now=now)
    assert case.number == "（2026）皖02执123号" and case.officer_id == officer.id
    assert {p.role for p in case.parties} == {PartyRole.APPLICANT, PartyRole.DEBTOR}
    entry = session.scalars(select(AuditEntry).where(AuditEntry.stream == f"case:{case.id}")).one()
    assert entry.action == "case.created" and "王某" not in entry.payload


def test_case_numbers_are_unique_per_court_only(session, now):
    a, b = make_court(session, code="皖02"), make_court(session, code="皖01")
    oa, ob = make_officer(session, court=a), make_officer(session, court=b)
    services.create_case(session, actor=oa, number="（2026）皖02执1号", basis="x", filed_on=date(2026, 1, 1),
                         claim_amount=Decimal(1), parties=parties(), vault=VAULT, now=now)
    with pytest.raises(services.CaseNumberTaken):
        services.create_case(session, actor=oa, number="（2026）皖02执1号", basis="x", filed_on=date(2026, 1, 1),
                             claim_amount=Decimal(1), parties=parties(), vault=VAULT, now=now)
    with pytest.raises(services.InvalidCase):  # another court's number
        services.create_case(session, actor=ob, number="（2026）皖02执1号", basis="x", filed_on=date(2026, 1, 1),
                             claim_amount=Decimal(1), parties=parties(), vault=VAULT, now=now)


@pytest.mark.parametrize("change", [
    {"parties": []},
    {"filed_on": date(2030, 1, 1)},
    {"basis": ""},
])
def test_incomplete_cases_are_refused(session, now, change):
    officer = make_officer(session)
    args = dict(actor=officer, number=f"（2026）{officer.court.code}执5号", basis="x", filed_on=date(2026, 1, 1),
                claim_amount=Decimal(1), parties=parties(), vault=VAULT, now=now)
    with pytest.raises(services.InvalidCase):
        services.create_case(session, **{**args, **change})


def test_a_party_with_a_bad_id_number_is_refused(session, now):
    officer = make_officer(session)
    bad = [PartyInput(PartyRole.APPLICANT, PartyKind.ENTERPRISE, "某银行", "91350100M000100Y44"), parties()[1]]
    with pytest.raises(services.InvalidCase, match="check character"):
        services.create_case(session, actor=officer, number=f"（2026）{officer.court.code}执6号", basis="x",
                             filed_on=date(2026, 1, 1), claim_amount=Decimal(1), parties=bad, vault=VAULT, now=now)


def test_only_officers_of_the_court_change_a_case_supervisors_read(session, now):
    case = make_case(session)
    other = make_officer(session)
    sup = make_user(session, Role.SUPERVISOR)
    bidder = make_user(session, Role.BIDDER)
    asset = AssetInput(AssetCategory.VEHICLE, "奥迪A6", "340202", "芜湖某停车场", date(2026, 3, 1))
    with pytest.raises(services.CaseNotFound):
        services.add_asset(session, actor=other, case_id=case.id, asset=asset, now=now)
    with pytest.raises(services.NotAllowed):
        services.add_asset(session, actor=sup, case_id=case.id, asset=asset, now=now)
    assert services.get_case_for(session, sup, case.id) is case
    with pytest.raises(services.CaseNotFound):
        services.get_case_for(session, bidder, case.id)
    assert services.visible_cases(session, other) == []
    assert case in services.visible_cases(session, sup)


def test_assets_are_recorded_with_their_category(session, now):
    case = make_case(session)
    officer = case.officer
    a = services.add_asset(session, actor=officer, case_id=case.id, now=now, asset=AssetInput(
        AssetCategory.REAL_ESTATE, "某小区3栋502室", "340202", "芜湖市镜湖区", date(2026, 3, 5),
        defects="漏水", encumbrances="抵押", occupancy="被执行人居住"))
    assert a.stage == rules.AssetStage.SEIZED and rules.specialty_for(a.category) == rules.Specialty.REAL_ESTATE
    with pytest.raises(services.InvalidCase):
        services.add_asset(session, actor=officer, case_id=case.id, now=now, asset=AssetInput(
            AssetCategory.MOVABLE, "设备", "999999", "某地", date(2026, 3, 5)))


def test_photos_and_documents_are_checked_by_content(session, now, tmp_path):
    case = make_case(session)
    asset = make_asset(session, case)
    store = FileStore(tmp_path / "files")
    photo = services.attach_asset_file(session, actor=case.officer, asset_id=asset.id, kind="photo",
                                       filename="front.png", data=png_bytes(), store=store, now=now)
    assert photo.media_type == "image/png" and store.exists(photo.sha256)
    jpg = services.attach_asset_file(session, actor=case.officer, asset_id=asset.id, kind="photo",
                                     filename="C:\\Users\\me\\side.jpg", data=jpeg_bytes(), store=store, now=now)
    assert jpg.media_type == "image/jpeg" and jpg.filename == "side.jpg"
    with pytest.raises(services.FileRefused) as info:
        services.attach_asset_file(session, actor=case.officer, asset_id=asset.id, kind="photo",
                                   filename="fake.jpg", data=b"MZ\x90\x00 this is an exe", store=store, now=now)
    assert "JPEG, PNG or WebP" in info.value.params["reason"]
    with pytest.raises(services.FileRefused):
        services.attach_asset_file(session, actor=case.officer, asset_id=asset.id, kind="document",
                                   filename="report.pdf", data=png_bytes(), store=store, now=now)
    assert session.scalar(select(func.count()).select_from(AssetFile)) == 2


def test_the_same_photo_twice_is_stored_once(session, now, tmp_path):
    case = make_case(session)
    asset = make_asset(session, case)
    store = FileStore(tmp_path / "files")
    a = services.attach_asset_file(session, actor=case.officer, asset_id=asset.id, kind="photo",
                                   filename="a.png", data=png_bytes(), store=store, now=now)
    b = services.attach_asset_file(session, actor=case.officer, asset_id=asset.id, kind="photo",
                                   filename="b.png", data=png_bytes(), store=store, now=now)
    assert a.id == b.id


def test_a_party_is_invited_and_then_sees_only_their_cases(session, now):
    case = make_case(session)
    other_case = make_case(session, officer=case.officer)
    debtor = next(p for p in case.parties if p.role == PartyRole.DEBTOR)
    token = services.invite_party(session, actor=case.officer, party_id=debtor.id, now=now, base_url="http://x")
    user = services.accept_invitation(session, token=token, username="wangmou", password="Judicial-2026", now=now)
    assert user.role == Role.PARTY
    assert services.visible_cases(session, user) == [case]
    with pytest.raises(services.CaseNotFound):
        services.get_case_for(session, user, other_case.id)
    with pytest.raises(services.InvitationInvalid):  # used once
        services.accept_invitation(session, token=token, username="again", password="Judicial-2026", now=now)


def test_overdue_pricing_is_flagged_for_the_court(session, now):
    case = make_case(session)
    today = rules.local_today(now)
    late = make_asset(session, case, seized_on=today - timedelta(days=31))
    make_asset(session, case, seized_on=today - timedelta(days=30))  # last allowed day: not yet
    make_asset(session, case, seized_on=today - timedelta(days=60), stage=rules.AssetStage.PRICING)
    flagged = services.overdue_pricing(session, user=case.officer, today=today, rulebook=SPC)
    assert [f.asset.id for f in flagged] == [late.id] and flagged[0].days_late == 1
    assert services.overdue_pricing(session, user=make_officer(session), today=today, rulebook=SPC) == []


# --- import -------------------------------------------------------------------------------


def csv_bytes(rows: list[list[str]], encoding="utf-8") -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(rules.IMPORT_HEADERS)
    w.writerows(rows)
    return out.getvalue().encode(encoding)


def row(n: int, code: str, **over) -> list[str]:
    values = dict(zip(rules.IMPORT_HEADERS, [
        f"（2026）{code}执{n}号", f"（2025）皖0202民初{n}号民事判决书", "2026-03-01", "芜湖某银行股份有限公司", "企业",
        "91350100M000100Y43", f"债务人{n}", "自然人", resident_id(serial=n % 1000), "500000.00", "不动产",
        f"某小区{n}号", "", "340202", f"芜湖市镜湖区某路{n}号", "2026-03-05"], strict=True))
    values.update(over)
    return list(values.values())


def test_a_1000_row_series_imports_in_one_go(session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    data = csv_bytes([row(i, "皖02") for i in range(1, 1001)])
    result = services.import_series(session, actor=officer, data=data, series_name="某银行系列案",
                                    vault=VAULT, now=now)
    assert (result.cases, result.assets) == (1000, 1000)
    assert session.scalar(select(func.count()).select_from(Case).where(Case.series_id == result.series.id)) == 1000
    assert session.scalar(select(func.count()).select_from(Party)) >= 2000
    assert verify(session) == []


def test_one_bad_row_in_1000_imports_nothing_and_is_reported(session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    rows = [row(i, "皖02") for i in range(1, 1001)]
    rows[736] = row(737, "皖02", **{"被执行人证件号码": "110105194912310021"})
    data = csv_bytes(rows)
    preview = services.preview_import(session, actor=officer, data=data, now=now)
    assert not preview.ok and [r.line for r in preview.problem_rows] == [738]
    with pytest.raises(services.ImportRefused):
        services.import_series(session, actor=officer, data=data, series_name="x", vault=VAULT, now=now)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    assert session.scalar(select(func.count()).select_from(Asset)) == 0


def test_gbk_files_from_excel_are_accepted(session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    data = csv_bytes([row(1, "皖02"), row(1, "皖02", **{"财产名称": "车位1号"})], encoding="gbk")
    preview = services.preview_import(session, actor=officer, data=data, now=now)
    assert preview.encoding == "GBK" and preview.ok and preview.case_count == 1
    result = services.import_series(session, actor=officer, data=data, series_name=None, vault=VAULT, now=now)
    assert (result.cases, result.assets) == (1, 2)


def test_the_template_is_a_valid_import_for_its_own_court_code(session, now):
    officer = make_officer(session, court=make_court(session, code="皖02"))
    preview = services.preview_import(session, actor=officer, data=services.import_template(), now=now)
    assert preview.ok, [r.problems for r in preview.rows]


def test_a_file_with_wrong_columns_is_refused(session, now):
    officer = make_officer(session)
    preview = services.preview_import(session, actor=officer, data="名字,年龄\n张三,3\n".encode(), now=now)
    assert not preview.ok and preview.header_problems


# --- funds --------------------------------------------------------------------------------


def test_the_fund_ledger_balances_and_reconciles(session, now):
    case = make_case(session)
    moves = [(FundMovement.DEPOSIT_HELD, "100000"), (FundMovement.DEPOSIT_HELD, "100000"),
             (FundMovement.DEPOSIT_REFUNDED, "100000"), (FundMovement.DEPOSIT_APPLIED, "100000"),
             (FundMovement.RECEIVED, "900000"), (FundMovement.PAID_OUT, "950000")]
    for i, (kind, amount) in enumerate(moves):
        services.record_fund_movement(session, case_id=case.id, kind=kind, amount=Decimal(amount),
                                      source=f"test:{i}", actor="user:1", now=now)
    assert services.fund_balances(session, case.id) == {FundAccount.COURT: Decimal("50000.00"),
                                                        FundAccount.DEPOSITS: Decimal("0.00")}
    assert services.reconcile_funds(session, case.id) == []
    with pytest.raises(services.InvalidCase, match="Not enough"):
        services.record_fund_movement(session, case_id=case.id, kind=FundMovement.PAID_OUT,
                                      amount=Decimal("50000.01"), source="x", actor="user:1", now=now)
    # A quietly edited amount no longer reconciles.
    entry = session.scalars(select(FundEntry).where(FundEntry.case_id == case.id, FundEntry.seq == 5)).one()
    entry.amount = Decimal("800000")
    session.flush()
    assert any("seq 5" in p for p in services.reconcile_funds(session, case.id))
