"""Checking uploads by their content, never by their name.

A photo must decode as a JPEG, PNG or WebP image; a document must be a PDF that parses. A
file renamed ``.jpg`` that is not an image is refused with a clear message.
"""
from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from cases.rules import MAX_DOCUMENT_BYTES, MAX_PHOTO_BYTES
from core.text import N_, DomainError

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_PIXELS = 80_000_000  # refuse decompression bombs well before Pillow's own limit


class FileRefused(DomainError):
    message = N_("The file %(name)s was refused: %(reason)s")


def check_photo(name: str, data: bytes) -> str:
    """The media type of an acceptable photo.

    :raise FileRefused: empty, too large, not a JPEG/PNG/WebP image (whatever its name says),
        or damaged.
    """
    if not data:
        raise FileRefused(name=name, reason=N_("the file is empty."))
    if len(data) > MAX_PHOTO_BYTES:
        raise FileRefused(name=name, reason=N_("photos may be at most 10 MB."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format
                if img.width * img.height > MAX_PIXELS:
                    raise FileRefused(name=name, reason=N_("the image is too large."))
                img.verify()
    except FileRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        raise FileRefused(name=name, reason=N_("it is not a JPEG, PNG or WebP image.")) from None
    if fmt not in IMAGE_TYPES:
        raise FileRefused(name=name, reason=N_("it is not a JPEG, PNG or WebP image."))
    return IMAGE_TYPES[fmt]


def check_document(name: str, data: bytes, *, allow_images: bool = False) -> str:
    """The media type of an acceptable document: a PDF (or, when allowed, a scan as an image).

    :raise FileRefused:
    """
    if not data:
        raise FileRefused(name=name, reason=N_("the file is empty."))
    if len(data) > MAX_DOCUMENT_BYTES:
        raise FileRefused(name=name, reason=N_("documents may be at most 30 MB."))
    if data[:5] == b"%PDF-":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reader = PdfReader(io.BytesIO(data))
                if len(reader.pages) < 1:
                    raise PdfReadError("no pages")
        except Exception:  # noqa: BLE001 - any parser failure means a damaged PDF
            raise FileRefused(name=name, reason=N_("the PDF is damaged.")) from None
        return "application/pdf"
    if allow_images:
        try:
            return check_photo(name, data)
        except FileRefused:
            pass
    raise FileRefused(name=name, reason=N_("it is not a PDF document.") if not allow_images
                      else N_("it is neither a PDF nor an image."))
