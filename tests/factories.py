"""Plain factory functions with keyword overrides (no factory library)."""
from __future__ import annotations

import itertools
from decimal import Decimal as Decimal_
from datetime import datetime, timezone

from werkzeug.security import generate_password_hash

from accounts.identity import IdentityVault
from accounts.models import Court, Identity, IdentityKind, Role, User
from accounts.rules import resident_id_check_digit

PASSWORD = "Passw0rd-Demo"
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
VAULT = IdentityVault("test-identity-key")
_seq = itertools.count(1)
# Hashing is slow on purpose; the factories reuse one hash of PASSWORD.
_PASSWORD_HASH = generate_password_hash(PASSWORD)


def resident_id(birth: str = "19900101", serial: int | None = None, region: str = "340202") -> str:
    """A valid resident ID number (right check digit) for tests."""
    serial = next(_seq) % 1000 if serial is None else serial
    first17 = f"{region}{birth}{serial:03d}"
    return first17 + resident_id_check_digit(first17)


def make_court(session, **kw) -> Court:
    n = next(_seq)
    court = Court(name=kw.pop("name", f"测试中级人民法院{n}"), code=kw.pop("code", f"测{n:02d}"),
                  region_code=kw.pop("region_code", "340200"), created_at=kw.pop("created_at", NOW), **kw)
    session.add(court)
    session.flush()
    return court


def make_user(session, role: Role = Role.BIDDER, **kw) -> User:
    n = next(_seq)
    if role in (Role.OFFICER, Role.FINANCE) and "court_id" not in kw and "court" not in kw:
        kw["court"] = make_court(session)
    user = User(
        username=kw.pop("username", f"{role}{n}"),
        email=kw.pop("email", f"{role}{n}@example.org"),
        display_name=kw.pop("display_name", f"{role} {n}"),
        password_hash=kw.pop("password_hash", _PASSWORD_HASH),
        role=role, active=kw.pop("active", True), failed_logins=kw.pop("failed_logins", 0),
        created_at=kw.pop("created_at", NOW), **kw,
    )
    session.add(user)
    session.flush()
    return user


def make_bidder(session, *, real_name: str = "张三", id_number: str | None = None, **kw) -> User:
    user = make_user(session, Role.BIDDER, display_name=real_name, **kw)
    number = id_number or resident_id()
    session.add(Identity(user_id=user.id, kind=IdentityKind.PERSON, real_name=real_name,
                         id_number_encrypted=VAULT.seal(number),
                         id_number_hmac=VAULT.fingerprint(number), id_number_tail=number[-4:],
                         created_at=NOW))
    session.flush()
    session.refresh(user)
    return user


def uscc(prefix: str = "91340200MA2N") -> str:
    """A valid unified social credit code for tests."""
    from accounts.rules import uscc_check_char

    n = next(_seq)
    first17 = f"{prefix}{n:05d}"[:17]
    return first17 + uscc_check_char(first17)


def make_officer(session, court=None, **kw) -> User:
    return make_user(session, Role.OFFICER, court=court or make_court(session), **kw)


def make_case(session, officer: User | None = None, **kw):
    """A case of the officer's court with one applicant (enterprise) and one debtor (person)."""
    from datetime import date
    from decimal import Decimal

    from cases.models import Case, Party
    from cases.rules import PartyKind, PartyRole

    officer = officer or make_officer(session)
    n = next(_seq)
    case = Case(court_id=officer.court_id, number=kw.pop("number", f"（2026）{officer.court.code}执{n}号"),
                basis=kw.pop("basis", "（2025）皖0202民初1号民事判决书"), filed_on=kw.pop("filed_on", date(2026, 3, 1)),
                claim_amount=kw.pop("claim_amount", Decimal("1000000.00")), officer_id=officer.id,
                created_at=kw.pop("created_at", NOW), **kw)
    session.add(case)
    session.flush()
    for role, kind, name, number in ((PartyRole.APPLICANT, PartyKind.ENTERPRISE, "芜湖某银行", uscc()),
                                     (PartyRole.DEBTOR, PartyKind.PERSON, "王某", resident_id())):
        session.add(Party(case_id=case.id, role=role, kind=kind, name=name,
                          id_number_encrypted=VAULT.seal(number), id_number_hmac=VAULT.fingerprint(number),
                          id_number_tail=number[-4:]))
    session.flush()
    session.refresh(case)
    return case


def make_asset(session, case, **kw):
    from datetime import date

    from cases.models import Asset
    from cases.rules import AssetCategory, AssetStage

    asset = Asset(case_id=case.id, category=kw.pop("category", AssetCategory.REAL_ESTATE),
                  title=kw.pop("title", "芜湖市镜湖区某小区3栋502室"), region_code=kw.pop("region_code", "340202"),
                  location=kw.pop("location", "安徽省芜湖市镜湖区某路88号"), seized_on=kw.pop("seized_on", date(2026, 3, 5)),
                  stage=kw.pop("stage", AssetStage.SEIZED), created_at=kw.pop("created_at", NOW), **kw)
    session.add(asset)
    session.flush()
    return asset


def png_bytes(color=(200, 30, 30), size=(64, 48)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(color=(30, 90, 200), size=(80, 60)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return buf.getvalue()


def make_agency(session, *, name=None, specialties=("real_estate",), regions=("340200",), status="listed",
                kind="appraisal", appraisers=2, **kw):
    """A listed appraisal agency with its login and ``appraisers`` registered appraisers."""
    from appraisal.models import Agency, Appraiser

    n = next(_seq)
    user = make_user(session, Role.AGENCY, username=kw.pop("username", f"agency{n}"))
    agency = Agency(user_id=user.id, kind=kind, name=name or f"测试评估机构{n}", licence_number=f"LIC{n:05d}",
                    status=status, specialties=list(specialties), regions=list(regions), created_at=NOW, **kw)
    session.add(agency)
    session.flush()
    for i in range(appraisers):
        session.add(Appraiser(agency_id=agency.id, name=f"评估师{n}-{i}", licence_number=f"A{n:05d}{i}", active=True))
    session.flush()
    session.refresh(agency)
    return agency


def pdf_bytes() -> bytes:
    """A one-page PDF (an appraisal report stand-in)."""
    import io

    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def make_priced_asset(session, case, *, price=Decimal_("1000000"), valid_days=300, category="real_estate", **kw):
    """An asset with a final reference price (a negotiated one), a photo, and the case's basis
    document: ready to be put into a lot."""
    from datetime import timedelta

    from appraisal.models import Procedure
    from appraisal.rules import Method, ProcedureState
    from cases.models import AssetFile
    from cases.rules import AssetStage

    asset = make_asset(session, case, category=category, stage=AssetStage.PRICED, **kw)
    session.add(Procedure(asset_id=asset.id, method=Method.NEGOTIATION, state=ProcedureState.FINAL, opened_at=NOW,
                          opened_by_id=case.officer_id, reference_price=price,
                          valid_until=NOW.date() + timedelta(days=valid_days), final_at=NOW, note=""))
    session.add(AssetFile(asset_id=asset.id, kind="photo", sha256=f"{asset.id:064x}", media_type="image/png",
                          filename="p.png", size=1, uploaded_at=NOW, uploaded_by_id=case.officer_id))
    case.basis_file_sha256 = case.basis_file_sha256 or "b" * 64
    session.flush()
    session.refresh(asset)
    return asset
