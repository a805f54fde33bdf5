"""The packages' catalogues are merged into one: a message id translated two ways in two
packages would silently take one package's words in the other's pages (seen: the cases CSV
import lost its "有误" when the bidding catalogue translated the same id)."""
from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def test_no_message_id_is_translated_two_ways_in_two_packages():
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for po in sorted(ROOT.glob("*/translations/*/LC_MESSAGES/messages.po")):
        locale = po.parts[-3]
        with po.open("rb") as fh:
            for message in read_po(fh):
                if not message.id or not message.string:
                    continue
                key = (locale, message.id if isinstance(message.id, str) else message.id[0])
                text = message.string if isinstance(message.string, str) else message.string[0]
                first = seen.setdefault(key, (po.parts[-5], text))
                if first[1] != text:
                    clashes.append((key[1], first, (po.parts[-5], text)))
    assert clashes == []


def _extracted(pkg: str, tmp_path: Path) -> set[str]:
    """The message ids ``scripts/update-translations.sh`` extracts for ``pkg`` (same inputs)."""
    import subprocess
    import sys

    inputs = [pkg] + ([f"templates/{pkg}"] if (ROOT / "templates" / pkg).is_dir() else [])
    if pkg == "core":
        inputs += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "templates").glob("*.html"))]
        inputs += [d for d in ("templates/errors", "templates/pdf") if (ROOT / d).exists()]
    pot = tmp_path / f"{pkg}.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg",
                    "-o", str(pot), *inputs], cwd=ROOT, check=True)
    with pot.open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}


def test_every_message_in_the_code_has_its_chinese_words_in_its_package_catalogue(tmp_path):
    """A message missing from the catalogue shows in English on a Chinese page (seen: the 503
    "busy" page)."""
    from core import PACKAGES

    missing = {}
    for pkg in ("core", *PACKAGES):
        po = ROOT / pkg / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
        translated = set()
        if po.exists():
            with po.open("rb") as fh:
                translated = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh)
                              if m.id and m.string and not m.fuzzy}
        gaps = sorted(_extracted(pkg, tmp_path) - translated)
        if gaps:
            missing[pkg] = gaps
    assert missing == {}, "run scripts/update-translations.sh, translate, make compile-translations"
