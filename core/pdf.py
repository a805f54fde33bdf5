"""The PDF pipeline: plain-data context → Jinja HTML → WeasyPrint bytes (STYLE.md point 10).

Nothing here needs a request, an application or a database: a service (or a scheduler job)
builds a context of plain values, calls :func:`render_pdf`, and hands the bytes to
:func:`core.documents.issue_document`. Tests assert on the context and on the text extracted
from the PDF.

**Why the PDF does not print its own SHA-256.** A file cannot contain the hash of its final
bytes: writing the hash into it changes the bytes and therefore the hash. So every page footer
(``templates/pdf/base.html``) carries the document's *reference number* (文书编号) and the
verification address ``{PUBLIC_BASE_URL}/documents/<SHA-256>``. The SHA-256 of the finished
file is computed here (:attr:`RenderedPdf.sha256`), recorded on the ``Document`` row and in the
audit ledger when the document is issued, and shown on the public verification page. Whoever
holds the file computes its hash (``sha256sum 文书.pdf``) and opens that address: the page
answers only for bytes the platform issued, so a single changed byte fails the check.

**Why the URL fetcher is locked down.** WeasyPrint follows every URL in the HTML and CSS it is
given, including ``file:///etc/passwd`` and ``http://`` addresses inside the court network.
Document templates show data typed by bidders and agencies, so the only resources a document may
load are our own files under ``static/``, named with the ``asset:`` scheme
(``asset:pdf/document.css``); anything else stops the render with :class:`AssetRefused`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from weasyprint import HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from core.i18n import local_time
from core.money import format_money

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"

#: The only URL scheme a document may load: ``asset:<path under static/>``.
ASSET_SCHEME = "asset"

#: What a document may embed, by file extension. Scripts, HTML and unknown files are refused
#: even under ``static/``: a document needs styles, pictures and fonts, nothing else.
ASSET_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".otf": "font/otf",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9.+-]*):")


class AssetRefused(ValueError):
    """A document asked for a resource it may not load (foreign URL, ``file:``, traversal,
    missing or unsupported file)."""


@dataclasses.dataclass(frozen=True)
class RenderedPdf:
    """A rendered document: the PDF bytes, their SHA-256 and the HTML they were made from."""

    data: bytes
    sha256: str
    html: str


# --- the URL fetcher ---------------------------------------------------------------------


def resolve_asset(url: str, static_dir: Path = STATIC_DIR) -> Path:
    """Map ``asset:<relative path>`` to a file inside ``static_dir``.

    :raise AssetRefused: for any other scheme, an absolute or escaping path (``../``, also
        percent-encoded, or a symlink leading out), an unsupported type or a missing file.
    """
    match = _SCHEME_RE.match(url)
    if match is None or match[1].lower() != ASSET_SCHEME:
        raise AssetRefused(f"only {ASSET_SCHEME}: URLs may be loaded by a document, not {url!r}")
    raw = re.split(r"[?#]", url[match.end():], maxsplit=1)[0]
    relative = unquote(raw)
    if not relative or relative.startswith("/") or "\\" in relative or "\x00" in relative:
        raise AssetRefused(f"asset path must be relative to static/: {url!r}")
    root = static_dir.resolve()
    # resolve() collapses ``..`` and follows symlinks, so the containment check below sees the
    # file that would really be opened.
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise AssetRefused(f"asset path leaves static/: {url!r}")
    if path.suffix.lower() not in ASSET_TYPES:
        raise AssetRefused(f"asset type not allowed in a document: {url!r}")
    if not path.is_file():
        raise AssetRefused(f"asset not found: {url!r}")
    return path


class StaticAssetFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves ``asset:`` files from ``static/`` and refuses the rest.

    It subclasses :class:`~weasyprint.urls.URLFetcher` only because WeasyPrint 70 reads its
    settings from that type; :meth:`fetch` never delegates to the parent, so the parent's
    network and ``file:`` handlers are never used. ``fail_on_errors`` makes a refused URL stop the render instead of leaving a
    silent hole (a missing seal or stylesheet) in a legal document.
    """

    def __init__(self, static_dir: Path = STATIC_DIR):
        super().__init__(allowed_protocols=(ASSET_SCHEME,), fail_on_errors=True)
        self.static_dir = static_dir

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        """Return the asset's bytes. :raise AssetRefused: for anything but our own asset."""
        path = resolve_asset(url, self.static_dir)
        content_type = ASSET_TYPES[path.suffix.lower()]
        body = path.read_bytes()
        return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})


# --- Jinja -------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns ``text`` takes in a monospace CJK font: Han and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(value: Any, width: int, align: str = "left") -> str:
    """Pad ``value`` with spaces to ``width`` display columns, for the stylesheet's ``.row``.

    Longer text is kept whole: cutting a name or an amount in a legal record would change it.
    """
    text = str(value)
    fill = " " * max(0, width - display_width(text))
    return fill + text if align == "right" else text + fill


def asset_url(path: str) -> str:
    """The URL a template uses to load ``static/<path>``: ``asset:<path>``."""
    return f"{ASSET_SCHEME}:{path}"


@lru_cache(maxsize=1)
def pdf_environment() -> Environment:
    """The Jinja environment of document templates, built from the project's ``templates/``.

    Separate from Flask's so documents render without a request or an app. Undefined names
    raise (:class:`~jinja2.StrictUndefined`): a blank where a price or a name belongs must never
    reach a signed document.
    """
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = format_money
    env.filters["localtime"] = local_time
    env.filters["pad"] = pad
    env.globals["asset"] = asset_url
    return env


_PLAIN_SCALARS = (str, int, float, bool, Decimal, date, datetime, time, Enum, type(None))


def check_plain(value: Any, where: str = "context") -> None:
    """Refuse anything but plain data (scalars, dicts, lists, tuples, dataclasses).

    A model instance would lazy-load from the database in the middle of rendering and tie the
    document to session state; the caller copies what the document shows into plain values.

    :raise TypeError: naming the first value that is not plain.
    """
    if isinstance(value, _PLAIN_SCALARS):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            check_plain(getattr(value, field.name), f"{where}.{field.name}")
    else:
        raise TypeError(f"{where} is a {type(value).__name__}; PDF contexts hold plain data only")


# --- the pipeline ------------------------------------------------------------------------


def render_html(template_name: str, context: Mapping[str, Any], *, public_base_url: str) -> str:
    """Render a document template to HTML.

    ``public_base_url`` is the platform's public address (``app.config["PUBLIC_BASE_URL"]``);
    the footer of every page shows ``<public_base_url>/documents/<SHA-256>``.
    """
    check_plain(context)
    template = pdf_environment().get_template(template_name)
    verify_prefix = public_base_url.rstrip("/") + "/documents/"
    return template.render({**context, "verify_url_prefix": verify_prefix})


def html_to_pdf(html: str, *, static_dir: Path = STATIC_DIR) -> bytes:
    """Lay out ``html`` with WeasyPrint and return the PDF bytes.

    No base URL is given, so a relative URL resolves to nothing and is never fetched; absolute
    ones go through :class:`StaticAssetFetcher`.

    :raise AssetRefused: when the HTML or its CSS asks for a resource it may not load.
    """
    fetcher = StaticAssetFetcher(static_dir)
    try:
        return HTML(string=html, url_fetcher=fetcher).write_pdf()
    except FatalURLFetchingError as exc:
        # WeasyPrint wraps the fetcher's error in a BaseException subclass; hand callers the
        # ordinary exception that says what was refused.
        cause = exc.__cause__
        if isinstance(cause, AssetRefused):
            raise cause from None
        raise AssetRefused(str(exc)) from cause


def render_pdf(
    template_name: str, context: Mapping[str, Any], *, public_base_url: str
) -> RenderedPdf:
    """Render ``template_name`` (e.g. ``"pdf/sample.html"``) with a plain-data ``context``.

    Templates extend ``pdf/base.html`` and need ``title`` (header of every page) and
    ``reference`` (文书编号, footer of every page) in the context. The same context always
    gives the same bytes, hence the same SHA-256.

    :raise TypeError: when the context holds something other than plain data.
    :raise AssetRefused: when the template loads a resource other than our own assets.
    """
    html = render_html(template_name, context, public_base_url=public_base_url)
    data = html_to_pdf(html)
    return RenderedPdf(data=data, sha256=hashlib.sha256(data).hexdigest(), html=html)
