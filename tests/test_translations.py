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
