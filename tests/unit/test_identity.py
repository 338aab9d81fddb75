"""Duplicate rules on real-looking pairs: the same person written two ways, and two people."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.identity import Person, address_key, likely_same, names_agree, phone_key

D1 = date(1990, 4, 2)
D2 = date(1990, 2, 4)


def p(first: str, last: str, born: date = D1, **more: str | None) -> Person:
    return Person(first, last, born, **more)  # type: ignore[arg-type]


# (known, new, the same person?, the fields that matched when it is)
PAIRS: list[tuple[str, Person, Person, bool, list[str] | None]] = [
    (
        "street vs st.",
        p("John", "Smith", address="12 Main Street"),
        p("John", "Smith", address="12 Main St."),
        True,
        ["first_name", "last_name", "birth_date", "address"],
    ),
    (
        "case and spacing",
        p("JOHN", "SMITH", phone="573-555-0100"),
        p("john", "  smith ", phone="573-555-0100"),
        True,
        ["first_name", "last_name", "birth_date", "phone"],
    ),
    (
        "accents",
        p("María", "Hernández", phone="(573) 555-0142"),
        p("Maria", "Hernandez", phone="573.555.0142"),
        True,
        ["first_name", "last_name", "birth_date", "phone"],
    ),
    (
        "hyphenated double surname vs the first surname",
        p("Ana", "García-López", address="400 N. Providence Rd, Apt 3"),
        p("Ana", "Garcia", address="400 North Providence Road #3"),
        True,
        ["first_name", "last_name", "birth_date", "address"],
    ),
    (
        "double surname with a space vs hyphen",
        p("José", "Pérez Ramírez", phone="+1 816 555 0177"),
        p("Jose", "Perez-Ramirez", phone="8165550177"),
        True,
        ["first_name", "last_name", "birth_date", "phone"],
    ),
    (
        "apostrophe in the surname",
        p("Sean", "O'Brien", phone="573-555-0111"),
        p("Sean", "OBrien", phone="573 555 0111"),
        True,
        ["first_name", "last_name", "birth_date", "phone"],
    ),
    (
        "two-word first name written as one",
        p("Mary Ann", "Lee", address="9 Elm Ave"),
        p("Maryann", "Lee", address="9 Elm Avenue"),
        True,
        ["first_name", "last_name", "birth_date", "address"],
    ),
    (
        "the same state id, another spelling of the name",
        p("Katherine", "Nguyen", external_id="MO-123-456"),
        p("Kathy", "Nguyen", external_id="mo123456"),
        True,
        ["last_name", "birth_date", "external_id"],
    ),
    (
        "the same external id even with another birth date typed",
        p("Liam", "Walsh", D1, external_id="DMH 778812"),
        p("Liam", "Walsh", D2, external_id="DMH778812"),
        True,
        ["first_name", "last_name", "external_id"],
    ),
    (
        "phone with a country code and extension punctuation",
        p("Grace", "Kim", phone="1-573-555-0190"),
        p("Grace", "Kim", phone="(573)555-0190"),
        True,
        ["first_name", "last_name", "birth_date", "phone"],
    ),
    (
        "name and birth date only: nothing to tell them apart",
        p("Omar", "Haddad", phone="573-555-0123"),
        p("Omar", "Haddad"),
        True,
        ["first_name", "last_name", "birth_date"],
    ),
    (
        "unit written three ways",
        p("Ruth", "Baker", address="221 West Broadway Suite 4"),
        p("Ruth", "Baker", address="221 W Broadway Unit 4"),
        True,
        ["first_name", "last_name", "birth_date", "address"],
    ),
    # --- different people ---
    (
        "placeholder phone never matches",
        p("Chris", "Jones", phone="999-999-9999"),
        p("Chris", "Jones", phone="(999) 999-9999", address="5 Oak St"),
        False,
        None,
    ),
    (
        "placeholder phone after a real area code",
        p("Chris", "Jones", phone="573-999-9999"),
        p("Chris", "Jones", phone="573-999-9999", address="7 Pine St"),
        False,
        None,
    ),
    (
        "all zeros",
        p("Alex", "Brown", phone="000-000-0000"),
        p("Alex", "Brown", phone="0000000000", address="1 Lake Rd"),
        False,
        None,
    ),
    (
        "twins: same surname, birth date, address and phone, other first name",
        p("Emma", "Clark", phone="573-555-0150", address="3 Hill St"),
        p("Ella", "Clark", phone="573-555-0150", address="3 Hill Street"),
        False,
        None,
    ),
    (
        "same name and address, another birth date (parent and child)",
        p("Robert", "Miller", date(1961, 7, 9), address="88 Cedar Ln"),
        p("Robert", "Miller", date(1994, 7, 9), address="88 Cedar Lane"),
        False,
        None,
    ),
    (
        "same name and birth date, other phone and other address",
        p("Ann", "Lee", phone="573-555-0100", address="1 First St"),
        p("Ann", "Lee", phone="816-555-0199", address="77 Grand Blvd"),
        False,
        None,
    ),
    (
        "day and month swapped is another birth date",
        p("Noah", "Davis", D1, phone="573-555-0160"),
        p("Noah", "Davis", D2, phone="573-555-0160"),
        False,
        None,
    ),
    (
        "a household phone shared by two people",
        p("Maria", "Lopez", date(1950, 1, 1), phone="573-555-0170"),
        p("Jorge", "Lopez", date(1952, 3, 3), phone="573-555-0170"),
        False,
        None,
    ),
    (
        "another house number on the same street",
        p("Ivy", "Chen", address="12 Main Street"),
        p("Ivy", "Chen", address="21 Main Street"),
        False,
        None,
    ),
    (
        "different surnames sharing no word",
        p("Lucía", "Fernández", phone="573-555-0180"),
        p("Lucia", "Hernandez", phone="573-555-0180"),
        False,
        None,
    ),
    (
        "other external ids and nothing else in common",
        p("Sam", "Ortiz", D1, external_id="MO-1"),
        p("Sam", "Ortiz", D2, external_id="MO-2"),
        False,
        None,
    ),
    (
        "particles only differ, different given names",
        p("Pedro", "de la Cruz", phone="573-555-0190"),
        p("Pablo", "Cruz", phone="573-555-0190"),
        False,
        None,
    ),
]


@pytest.mark.parametrize(
    ("known", "new", "same", "fields"),
    [pair[1:] for pair in PAIRS],
    ids=[pair[0] for pair in PAIRS],
)
def test_duplicate_pairs(known: Person, new: Person, same: bool, fields: list[str] | None) -> None:
    assert likely_same(new, known) == fields
    assert (likely_same(new, known) is not None) == same


def test_the_table_is_large_and_balanced() -> None:
    assert len(PAIRS) >= 20
    assert sum(1 for pair in PAIRS if pair[3]) >= 10
    assert sum(1 for pair in PAIRS if not pair[3]) >= 10


@pytest.mark.parametrize(
    "phone",
    ["999-999-9999", "(000) 000-0000", "123-456-7890", "555-555-5555", "573-000-0000", "", "911"],
)
def test_placeholder_phones_have_no_key(phone: str) -> None:
    assert phone_key(phone) is None


def test_keys() -> None:
    assert phone_key("+1 (573) 555-0100") == "5735550100"
    assert (
        address_key("12 Main Street, Apt. 4B") == address_key("12 main st #4b") == "12 main st 4b"
    )
    assert names_agree("García-López", "garcia lopez")
    assert not names_agree("", "Lopez")
