"""Demo cases of 芜湖中院 (皖02): a house with photos, a car whose pricing is overdue (E01),
a small imported series, and a party login. Idempotent."""
from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from accounts.models import Court, Role, User
from accounts.rules import resident_id_check_digit
from cases import rules
from cases.models import Asset, AssetFile, Case, Party, Series
from cases.rules import AssetCategory, AssetStage, PartyKind, PartyRole
from core import audit
from core.files import FileStore

DEMO_PASSWORD = "Passw0rd-Demo"


def _photo(label: str, color: tuple[int, int, int]) -> bytes:
    """A simple drawn 'photo' (a house or a car silhouette) so the demo shows real images."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (640, 480), (225, 232, 240))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 360, 640, 480], fill=(150, 160, 150))
    if label == "house":
        d.rectangle([170, 190, 470, 380], fill=color)
        d.polygon([(140, 200), (320, 80), (500, 200)], fill=(120, 60, 50))
        for x in (200, 300, 400):
            d.rectangle([x, 230, x + 50, 280], fill=(200, 225, 250))
        d.rectangle([295, 300, 345, 380], fill=(90, 60, 40))
    else:
        d.rounded_rectangle([120, 250, 520, 340], radius=30, fill=color)
        d.polygon([(200, 250), (260, 190), (420, 190), (470, 250)], fill=color)
        for cx in (200, 440):
            d.ellipse([cx - 35, 310, cx + 35, 380], fill=(30, 30, 30))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def seed_cases(session, *, now, rulebook, vault=None, store: FileStore | None = None) -> list[str]:
    from flask import current_app

    from core.files import file_store

    vault = vault or current_app.extensions["identity_vault"]
    store = store or file_store(current_app)
    court = session.scalar(select(Court).where(Court.code == "皖02"))
    officer = session.scalar(select(User).where(User.username == "officer"))
    if court is None or officer is None:
        return []
    today = rules.local_today(now)
    lines = []

    def case(number, basis, claim, applicant, debtor, series=None):
        existing = session.scalar(select(Case).where(Case.court_id == court.id, Case.number == number))
        if existing:
            return existing, False
        c = Case(court_id=court.id, number=number, basis=basis, filed_on=today - timedelta(days=60),
                 claim_amount=Decimal(claim), officer_id=officer.id, series_id=series.id if series else None,
                 created_at=now)
        session.add(c)
        session.flush()
        for role, (kind, name, number_, extra) in ((PartyRole.APPLICANT, applicant), (PartyRole.DEBTOR, debtor)):
            session.add(Party(case_id=c.id, role=role, kind=kind, name=name, id_number_encrypted=vault.seal(number_),
                              id_number_hmac=vault.fingerprint(number_), id_number_tail=number_[-4:], **extra))
        audit.record(session, stream=f"case:{c.id}", actor="system:seed", action="case.created",
                     subject=f"case:{c.id}", payload={"number": number}, now=now)
        return c, True

    def asset(c, title, category, seized_days_ago, photo=None, **extra):
        a = Asset(case_id=c.id, category=category, title=title, region_code=extra.pop("region_code", "340202"),
                  location=extra.pop("location", "安徽省芜湖市镜湖区"), seized_on=today - timedelta(days=seized_days_ago),
                  stage=AssetStage.SEIZED, created_at=now, **extra)
        session.add(a)
        session.flush()
        if photo:
            data = _photo(*photo)
            sha = store.put(data)
            session.add(AssetFile(asset_id=a.id, kind="photo", sha256=sha, media_type="image/jpeg",
                                  filename=f"{photo[0]}.jpg", size=len(data), uploaded_at=now,
                                  uploaded_by_id=officer.id))
        audit.record(session, stream=f"case:{c.id}", actor="system:seed", action="asset.added",
                     subject=f"asset:{a.id}", payload={"title": title}, now=now)
        return a

    bank = (PartyKind.ENTERPRISE, "芜湖江城农村商业银行股份有限公司", "91350100M000100Y43",
            {"legal_representative": "陈国华", "address": "安徽省芜湖市镜湖区中山路1号", "phone": "13900000001"})
    house_case, created = case("（2026）皖02执101号", "（2025）皖0202民初456号民事判决书", "1860000.00", bank,
                               (PartyKind.PERSON, "王建国", "11010519491231002X",
                                {"address": "安徽省芜湖市镜湖区北京东路88号", "phone": "13900000002"}))
    if created:
        asset(house_case, "芜湖市镜湖区春江花园3栋502室", AssetCategory.REAL_ESTATE, 12, photo=("house", (230, 200, 160)),
              description="住宅，建筑面积89.5平方米，2010年建成，产权清晰。", location="安徽省芜湖市镜湖区北京东路88号春江花园3栋502室",
              encumbrances="已设定抵押（芜湖江城农村商业银行），拍卖后抵押权消灭。", occupancy="被执行人居住，法院负责腾退。",
              tax_notes="过户税费依法由买卖双方各自承担。")
        asset(house_case, "奥迪A6L 小型轿车（皖B·A1234）", AssetCategory.VEHICLE, 41, photo=("car", (40, 70, 120)),
              description="2019年登记，行驶里程约8万公里。", location="芜湖市中级人民法院停车场", region_code="340202")
        lines.append("Demo cases: （2026）皖02执101号 (a house with photos; a car whose pricing is overdue, E01)")
        session.flush()
        session.refresh(house_case)
        party = next(p for p in house_case.parties if p.role == PartyRole.DEBTOR)
        if not session.scalar(select(User.id).where(User.username == "party")):
            user = User(username="party", display_name=party.name, email="party@demo.example",
                        password_hash=generate_password_hash(DEMO_PASSWORD), role=Role.PARTY, active=True,
                        failed_logins=0, created_at=now)
            session.add(user)
            session.flush()
            party.user_id = user.id
    series = session.scalar(select(Series).where(Series.court_id == court.id, Series.name == "江城农商行信用卡系列案"))
    if series is None:
        series = Series(court_id=court.id, name="江城农商行信用卡系列案", created_at=now, created_by_id=officer.id)
        session.add(series)
        session.flush()
        debtors = [("李强", "340202198001010011"), ("赵敏", "340202198502020022"), ("孙磊", "340202199003030033")]
        for i, (name, number) in enumerate(debtors, start=201):
            number = number[:17] + resident_id_check_digit(number[:17])
            c, made = case(f"（2026）皖02执{i}号", f"（2025）皖0202民初{i}号民事判决书", "86000.00", bank,
                           (PartyKind.PERSON, name, number, {}), series=series)
            if made:
                asset(c, f"{name}名下机器设备一批", AssetCategory.MOVABLE, 20, location="芜湖市弋江区工业园")
        lines.append("Demo series: 江城农商行信用卡系列案 (3 cases)")
    session.commit()
    if lines:
        lines.append("  party        party      王建国 (debtor of （2026）皖02执101号)")
    return lines
