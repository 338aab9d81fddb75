"""The envelope addresses the transport sends are smtplib's, with or without its parser."""

from __future__ import annotations

import smtplib

import pytest

from handlers.email.smtp import quoted

ADDRESSES = [
    "gk1@statewide.example.org",
    "notify@closeloop.example.org",
    "first.last+tag@x.org",
    "o'brien@x-y.example",
    "a_b-c=d@sub.domain.example",
    "!#$%&*/=?^`{|}~@x.org",
    "a..b@x.org",
    ".a@x.org",
    "a.@x.org",
    "Grace <grace@x.org>",
    "<grace@x.org>",
    '"quoted local"@x.org',
    "grace@x.org (comment)",
    "not an address",
    "grace@[127.0.0.1]",
    "grace@x..org",
    "",
    "a@b@c",
    "grace@x.org,other@y.org",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_quoted_is_smtplibs_quoteaddr(address: str) -> None:
    assert quoted(address) == smtplib.quoteaddr(address)
