"""Is this the same person? Duplicate rules for clients, on the data as people type it.

DOMAIN.md: the same first name, last name and date of birth, plus the same phone or address, is
the same person; so is the same external identifier. "The same" is judged on folded values:
case, accents ("María" = "Maria"), punctuation, hyphenated or double surnames ("García-López"
shares "Garcia" with "Garcia Lopez"), phone formats ("(573) 555-0100" = "573.555.0100") and the
usual street abbreviations ("12 Main Street" = "12 Main St."). A placeholder phone
(999-999-9999, 000-000-0000, 123-456-7890...) never counts: intake forms are full of them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

# USPS street suffixes and unit words as people write them; the key is the folded long form.
_ADDRESS_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "boulevard": "blvd",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "parkway": "pkwy",
    "highway": "hwy",
    "terrace": "ter",
    "circle": "cir",
    "square": "sq",
    "trail": "trl",
    "route": "rte",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "apartment": "apt",
    "unit": "apt",
    "suite": "apt",
    "ste": "apt",
    "number": "apt",
    "no": "apt",
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
}
# Name particles that are not what tells two people apart.
_NAME_PARTICLES = frozenset({"de", "del", "la", "los", "las", "y", "van", "von", "da", "di"})
_PLACEHOLDER_PHONES = frozenset({"1234567890", "0123456789", "5555555555", "5551234567"})


def fold(text: str | None) -> str:
    """Lower case, accents removed, every run of non-alphanumerics one space."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain.lower()).split())


def name_tokens(name: str | None) -> frozenset[str]:
    """The words of a name, hyphens and apostrophes splitting ("O'Brien-Smith" -> o, brien,
    smith), particles dropped unless they are the whole name."""
    words = fold(name).split()
    kept = [w for w in words if w not in _NAME_PARTICLES]
    return frozenset(kept or words)


def names_agree(a: str | None, b: str | None) -> bool:
    """Two spellings of one name: equal once folded and joined ("Mary Ann" = "Maryann",
    "O'Brien" = "OBrien"), or one is a double surname holding the other ("Garcia" in
    "García-López")."""
    ta, tb = name_tokens(a), name_tokens(b)
    if not ta or not tb:
        return False
    if "".join(fold(a).split()) == "".join(fold(b).split()):
        return True
    return ta <= tb or tb <= ta


def phone_key(phone: str | None) -> str | None:
    """The 10-digit number (a leading country code 1 dropped), or None for none or a placeholder."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) < 7:
        return None
    digits = digits[-10:]
    if len(set(digits)) == 1 or digits in _PLACEHOLDER_PHONES:
        return None
    # A real area code before 999-9999 or 000-0000 is still a placeholder.
    if len(set(digits[-7:])) == 1:
        return None
    return digits


def address_key(address: str | None) -> str | None:
    """The address folded, with street suffixes, directions and unit words abbreviated."""
    words = [_ADDRESS_WORDS.get(w, w) for w in fold(address).split()]
    # "#4" folds to "4": "Apt 4", "Unit 4" and "# 4" are the same unit.
    key = " ".join(w for w in words if w != "apt")
    return key or None


def external_key(external_id: str | None) -> str | None:
    key = re.sub(r"[^0-9A-Z]", "", unicodedata.normalize("NFKD", external_id or "").upper())
    return key or None


@dataclass(frozen=True)
class Person:
    """What the rules compare: one client as recorded, or one about to be."""

    first_name: str
    last_name: str
    birth_date: date
    phone: str | None = None
    address: str | None = None
    external_id: str | None = None


def matched_fields(new: Person, known: Person) -> list[str]:
    """The fields on which `new` agrees with `known`, in a fixed order."""
    fields = []
    if names_agree(new.first_name, known.first_name):
        fields.append("first_name")
    if names_agree(new.last_name, known.last_name):
        fields.append("last_name")
    if new.birth_date == known.birth_date:
        fields.append("birth_date")
    phone = phone_key(new.phone)
    if phone is not None and phone == phone_key(known.phone):
        fields.append("phone")
    address = address_key(new.address)
    if address is not None and address == address_key(known.address):
        fields.append("address")
    external = external_key(new.external_id)
    if external is not None and external == external_key(known.external_id):
        fields.append("external_id")
    return fields


def likely_same(new: Person, known: Person) -> list[str] | None:
    """The matched fields when `known` is likely the same person as `new`, else None.

    The same external id is enough. Otherwise first name, last name and date of birth must
    agree, plus the phone or the address; when the new record gives neither phone nor
    address there is nothing to tell them apart, so name and birth date alone are a likely
    match (the coordinator decides)."""
    fields = matched_fields(new, known)
    if "external_id" in fields:
        return fields
    if not {"first_name", "last_name", "birth_date"} <= set(fields):
        return None
    if "phone" in fields or "address" in fields:
        return fields
    if phone_key(new.phone) is None and address_key(new.address) is None:
        return fields
    return None
