"""The PDF pipeline: Chinese text survives into the PDF, fonts are embedded, every page carries
the header and footer, and the URL fetcher loads nothing but our own static assets."""
from __future__ import annotations

import hashlib
import http.server
import io
import re
import subprocess
import threading
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from pypdf import PdfReader

from core.models import Document
from core.pdf import (
    AssetRefused,
    StaticAssetFetcher,
    check_plain,
    display_width,
    html_to_pdf,
    pad,
    render_html,
    render_pdf,
    resolve_asset,
)

BASE_URL = "https://paimai.example.gov.cn"
DRAWN_AT = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)


def sample_context(**overrides) -> dict:
    """A draw-record-like context of plain values; 60 log rows make it run over two pages."""
    context = {
        "title": "人民法院网络司法拍卖 样本文书",
        "reference": "JAP-2026-000123",
        "court": "安徽省芜湖市中级人民法院",
        "case_number": "（2026）皖02执恢123号",
        "drawn_at": DRAWN_AT,
        "paragraphs": [
            "本院在执行申请执行人张三与被执行人李四借款合同纠纷一案中，依法对下列财产进行网络司法拍卖。",
            "摇号在书记员监督下由系统随机进行，过程记录如下，当事人可在平台核验本文书。",
        ],
        "lots": [
            {"name": "芜湖市镜湖区某小区3栋1单元502室住宅", "valuation": Decimal("1234567.00"),
             "starting_price": Decimal("864196.90"), "deposit": Decimal("123456.70")},
            {"name": "皖B·12345 小型轿车", "valuation": Decimal("85000"),
             "starting_price": Decimal("59500.00"), "deposit": Decimal("8500.00")},
        ],
        "log": [
            {"at": DRAWN_AT + timedelta(seconds=7 * i), "actor": "书记员 王五" if i % 2 else "系统",
             "action": f"第 {i + 1} 号评估机构入选候选"}
            for i in range(60)
        ],
        "signatories": ["审判员：赵六", "书记员：王五"],
    }
    context.update(overrides)
    return context


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample rendered once, with its PDF written to disk for the poppler tools."""
    rendered = render_pdf("pdf/sample.html", sample_context(), public_base_url=BASE_URL)
    path = tmp_path_factory.mktemp("pdf") / "sample.pdf"
    path.write_bytes(rendered.data)
    return rendered, path


def squash(text: str) -> str:
    """Text without whitespace: extractors differ in where they put spaces and line breaks."""
    return re.sub(r"\s+", "", text)


EXPECTED_TEXT = [
    "人民法院网络司法拍卖样本文书", "安徽省芜湖市中级人民法院",
    "芜湖市镜湖区某小区3栋1单元502室住宅",
    "¥1,234,567.00", "¥864,196.90", "第60号评估机构入选候选", "审判员：赵六",
]


# --- the context and the HTML ------------------------------------------------------------


def test_html_is_chinese_with_money_and_local_time_formatted():
    html = render_html("pdf/sample.html", sample_context(), public_base_url=BASE_URL)

    assert '<html lang="zh-CN">' in html
    assert "¥1,234,567.00" in html and "¥85,000.00" in html
    assert "2026年11月26日 10:00" in html  # 02:00 UTC shown in Asia/Shanghai
    assert f"{BASE_URL}/documents/&lt;SHA-256&gt;" in html


def test_a_missing_context_value_fails_instead_of_printing_a_blank():
    context = sample_context()
    del context["reference"]
    with pytest.raises(UndefinedError):
        render_html("pdf/sample.html", context, public_base_url=BASE_URL)


def test_a_model_instance_in_the_context_is_refused():
    with pytest.raises(TypeError, match=r"context\['lots'\]\[0\] is a Document"):
        check_plain({"lots": [Document(title="x")]})


def test_pad_counts_han_characters_as_two_columns():
    assert display_width("竞买人A1") == 8
    assert pad("书记员", 8) == "书记员  "
    assert pad("12", 4, align="right") == "  12"
    assert pad("过长的名字不截断", 4) == "过长的名字不截断"


# --- the PDF -----------------------------------------------------------------------------


def test_sha256_is_the_hash_of_the_bytes(sample):
    rendered, _ = sample
    assert rendered.data.startswith(b"%PDF-")
    assert rendered.sha256 == hashlib.sha256(rendered.data).hexdigest()


def test_the_same_context_renders_the_same_bytes(sample):
    rendered, _ = sample
    again = render_pdf("pdf/sample.html", sample_context(), public_base_url=BASE_URL)
    assert again.sha256 == rendered.sha256


def test_chinese_text_is_extracted_by_pypdf(sample):
    rendered, _ = sample
    pages = PdfReader(io.BytesIO(rendered.data)).pages
    text = squash("".join(page.extract_text() for page in pages))
    for expected in EXPECTED_TEXT:
        assert expected in text


def test_chinese_text_is_extracted_by_pdftotext(sample):
    _, path = sample
    text = squash(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True,
                                 text=True).stdout)
    for expected in EXPECTED_TEXT:
        assert expected in text


def test_every_page_has_the_title_reference_verification_address_and_page_number(sample):
    _, path = sample
    pages = len(PdfReader(path).pages)
    assert pages >= 2
    for number in range(1, pages + 1):
        text = squash(subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), str(path), "-"],
            capture_output=True, check=True, text=True,
        ).stdout)
        assert "人民法院网络司法拍卖样本文书" in text
        assert "文书编号：JAP-2026-000123" in text
        assert f"{BASE_URL}/documents/<SHA-256>" in text
        assert f"第{number}页/共{pages}页" in text


def test_only_noto_cjk_fonts_are_embedded_and_subset(sample):
    _, path = sample
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    fonts = [line.split() for line in out.splitlines()[2:] if line.strip()]
    names = [f[0] for f in fonts]
    assert any("Noto-Serif-CJK-SC" in name for name in names)
    # A fallback face (DejaVu…) here would mean a margin box or element lost the CJK font.
    assert all(re.search(r"\+Noto-(Serif|Sans(-Mono)?)-CJK-SC", name) for name in names), names
    for f in fonts:
        emb, sub = f[-5], f[-4]
        assert (emb, sub) == ("yes", "yes"), f


# --- the URL fetcher ---------------------------------------------------------------------

REFUSED_URLS = [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "http://example.com/x.png",
    "https://example.com/x.css",
    "ftp://example.com/x.png",
    "data:text/css,body{}",
    "//example.com/x.png",
    "asset:../core/config.py",
    "asset:../../../../etc/passwd",
    "asset:pdf/../../core/pdf.py",
    "asset:%2e%2e/%2e%2e/etc/passwd",
    "asset:pdf/..%2f..%2fcore%2fpdf.py",
    "asset:/etc/passwd",
    "asset:///etc/passwd",
    "asset:pdf\\..\\..\\core\\pdf.py",
    "asset:pdf/missing.css",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_the_fetcher_refuses_anything_but_our_own_assets(url):
    with pytest.raises(AssetRefused):
        StaticAssetFetcher().fetch(url)
    with pytest.raises(AssetRefused):
        StaticAssetFetcher()(url)


def test_the_fetcher_serves_our_stylesheet():
    response = StaticAssetFetcher().fetch("asset:pdf/document.css")
    assert response.content_type == "text/css"
    assert b"@page" in response.read()


def test_a_symlink_leading_out_of_static_is_refused(tmp_path):
    static, outside = tmp_path / "static", tmp_path / "secret.css"
    static.mkdir()
    outside.write_text("body { color: red }")
    (static / "link.css").symlink_to(outside)
    with pytest.raises(AssetRefused, match="leaves static"):
        resolve_asset("asset:link.css", static)


def test_a_file_type_a_document_does_not_need_is_refused(tmp_path):
    (tmp_path / "script.js").write_text("alert(1)")
    with pytest.raises(AssetRefused, match="type not allowed"):
        resolve_asset("asset:script.js", tmp_path)


@pytest.fixture
def http_server():
    """A local HTTP server that records every request it receives."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def handler_spy(monkeypatch):
    """Records any use of urllib's file and network handlers (WeasyPrint's default readers)."""
    calls: list[str] = []

    def spy(self, req):
        calls.append(req.full_url)
        raise AssertionError(f"fetched {req.full_url}")

    monkeypatch.setattr(urllib.request.FileHandler, "file_open", spy)
    monkeypatch.setattr(urllib.request.HTTPHandler, "http_open", spy)
    monkeypatch.setattr(urllib.request.HTTPSHandler, "https_open", spy)
    return calls


def _page(body: str, style: str = "") -> str:
    head = f'<head><style>{style}</style></head>'
    return f'<html lang="zh-CN">{head}<body>{body}<p>正文</p></body></html>'


def test_rendering_an_image_from_a_file_url_is_refused_without_reading_it(tmp_path, handler_spy):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for documents")
    with pytest.raises(AssetRefused, match="only asset: URLs"):
        html_to_pdf(_page(f'<img src="{secret.as_uri()}">'))
    with pytest.raises(AssetRefused):
        html_to_pdf(_page('<img src="file:///etc/passwd">'))
    assert handler_spy == []


def test_a_foreign_image_or_stylesheet_is_refused_without_fetching(http_server, handler_spy):
    server_url, requests = http_server
    with pytest.raises(AssetRefused):
        html_to_pdf(_page(f'<img src="{server_url}/x.png">'))
    with pytest.raises(AssetRefused):
        html_to_pdf(_page("", style=f"body {{ background: url({server_url}/bg.png) }}"))
    with pytest.raises(AssetRefused):
        html_to_pdf(_page(f'<link rel="stylesheet" href="{server_url}/x.css">'))
    with pytest.raises(AssetRefused):
        html_to_pdf(_page('<img src="http://example.com/x.png">'))
    assert requests == []
    assert handler_spy == []


def test_a_base_element_cannot_point_the_document_at_the_filesystem(handler_spy):
    with pytest.raises(AssetRefused):
        html_to_pdf(_page('<base href="file:///etc/"><img src="passwd">'))
    assert handler_spy == []


def test_a_traversal_through_the_asset_scheme_is_refused_during_rendering(handler_spy):
    with pytest.raises(AssetRefused, match="leaves static"):
        html_to_pdf(_page('<link rel="stylesheet" href="asset:../core/pdf.css">'))
    assert handler_spy == []


def test_a_relative_url_resolves_to_nothing_and_is_not_fetched(handler_spy):
    data = html_to_pdf(_page('<img src="../../etc/passwd">'))
    assert data.startswith(b"%PDF-")
    assert handler_spy == []


def test_static_folder_is_where_the_stylesheet_lives():
    assert resolve_asset("asset:pdf/document.css") == (
        Path(__file__).resolve().parents[2] / "static" / "pdf" / "document.css"
    )
