"""How an inbound message is parsed: policy.default's reading of headers, without its cost.

policy.default builds a parse tree (and a new header class) every time a header is fetched, and
the reader fetches Content-Type alone about ten times per message: that was two thirds of the
time it took to read a reply (docs/benchmarks.md). A plain value, printable ASCII with no
encoded word, reads back from that tree exactly as written for the headers listed here, so it
is returned as written; every other value, and every other header, goes through policy.default
as before.
"""

from __future__ import annotations

import re
from email import headerregistry
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from typing import Any

# Header classes whose decoded value is the text of their parse tree: the input, when plain.
_AS_WRITTEN = (
    headerregistry.UnstructuredHeader,
    headerregistry.ContentTransferEncodingHeader,
    headerregistry.MessageIDHeader,
)
# Parsed headers kept for values seen again (Content-Type: the same few in every message).
_KEPT = 4096
# Address headers are written back by policy.default as `Name <addr>` or `addr`: a value
# already in that form, with a name of plain words, comes back unchanged.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})+"
_PLAIN_ADDRESS = re.compile(rf"(?:{_ADDR_SPEC}|{_ATOM}(?: {_ATOM})* <{_ADDR_SPEC}>)")
_PLAIN = re.compile(r"[\t\x20-\x7e]*")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


class ReadingPolicy(EmailPolicy):
    """policy.default, answering plain values of the usual headers without parsing them, and
    other values it has parsed before from its memory (header objects are immutable)."""

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if type(value) is not str:
            return super().header_fetch_parse(name, value)
        if "=?" not in value:
            plain = _LINE_BREAKS.sub("", value)
            if _PLAIN.fullmatch(plain):
                kind = _kind(name.lower())
                if kind is _AS_WRITTEN or (
                    kind is _PLAIN_ADDRESS and _PLAIN_ADDRESS.fullmatch(plain)
                ):
                    return plain
        key = (name, value)
        parsed = _PARSED.get(key)
        if parsed is None:
            parsed = super().header_fetch_parse(name, value)
            if len(_PARSED) >= _KEPT:
                _PARSED.clear()
            _PARSED[key] = parsed
        return parsed


def _kind(name: str) -> object:
    known = _KINDS.get(name)
    if known is None:
        header = _REGISTRY.registry.get(name, headerregistry.UnstructuredHeader)
        if issubclass(header, headerregistry.AddressHeader):
            known = _PLAIN_ADDRESS
        elif issubclass(header, _AS_WRITTEN):
            known = _AS_WRITTEN
        else:
            known = header
        _KINDS[name] = known
    return known


_KINDS: dict[str, object] = {}
_PARSED: dict[tuple[str, str], Any] = {}
_REGISTRY = headerregistry.HeaderRegistry()

READING = ReadingPolicy()
_PARSER = BytesParser(_class=EmailMessage, policy=READING)


def parse_message(raw: bytes) -> Message:
    """The message as an EmailMessage, its headers read as policy.default reads them."""
    return _PARSER.parsebytes(raw)
