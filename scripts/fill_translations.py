"""Fill empty or fuzzy entries of a catalogue from a JSON dict {msgid: msgstr} (developers).

Usage: python scripts/fill_translations.py path/to/messages.po translations.json
Prints the msgids that are still untranslated.
"""
import json
import sys

from babel.messages.pofile import read_po, write_po

path = sys.argv[1]
with open(sys.argv[2], encoding="utf-8") as fh:
    table = json.load(fh)
with open(path, "rb") as fh:
    catalog = read_po(fh)
for message in catalog:
    if message.id and message.id in table and (not message.string or message.fuzzy):
        message.string = table[message.id]
        message.flags.discard("fuzzy")
with open(path, "wb") as fh:
    write_po(fh, catalog, width=100)
left = [m.id for m in catalog if m.id and not m.string]
print("untranslated:", left)
