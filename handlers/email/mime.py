"""Writes a notification email's bytes directly: the same MIME the email package would write,
at a fraction of its cost (a statewide fanout writes thousands of them; docs/benchmarks.md).

Only what our notifications use: a few headers, a plain-text body and an optional HTML
alternative, both UTF-8. Header values outside ASCII become RFC 2047 encoded words; a body is
7bit when it is ASCII with short lines, quoted-printable otherwise. The test suite reads every
message back with the standard library's parser.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Sequence
from email.header import Header

CRLF = b"\r\n"
# RFC 5322's hard limit; we never fold shorter, as subjects starting with "[" were shown with a
# leading space by clients after the email package folded them at 78.
MAX_LINE = 998
_DOT_AT_LINE_START = re.compile(rb"^\.", re.MULTILINE)


def header(name: str, value: str) -> bytes:
    """`Name: value` and its CRLF, encoded when the value is not ASCII."""
    value = " ".join(value.splitlines())  # a header is one logical line, whatever came in
    if value.isascii():
        return f"{name}: {value}".encode("ascii") + CRLF
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii") + CRLF


def id_list(name: str, ids: Sequence[str]) -> bytes:
    """A header of message ids (References), one id per folded line."""
    return f"{name}: ".encode("ascii") + b"\r\n ".join(i.encode("ascii") for i in ids) + CRLF


def _part(content_type: str, body: str) -> bytes:
    data = body.encode("utf-8")
    if data.isascii() and (len(data) <= MAX_LINE or max(map(len, data.split(b"\n"))) <= MAX_LINE):
        encoding, payload = "7bit", data
    else:
        encoding, payload = "quoted-printable", binascii.b2a_qp(data, istext=True)
    payload = payload.replace(b"\r\n", b"\n").replace(b"\n", CRLF)
    if not payload.endswith(CRLF):
        payload += CRLF
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode("ascii")
        + payload
    )


def compose(headers: bytes, text: str, html: str | None) -> bytes:
    """The whole message: `headers` (already written lines), then the body parts."""
    if html is None:
        return headers + b"MIME-Version: 1.0\r\n" + _part("text/plain", text)
    boundary = f"=_closeloop_{secrets.token_hex(12)}"
    return b"".join(
        (
            headers,
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
            # The CRLF before a boundary belongs to the boundary, not to the part above it.
            f"--{boundary}\r\n".encode(),
            _part("text/plain", text),
            f"\r\n--{boundary}\r\n".encode(),
            _part("text/html", html),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )


def dot_stuffed(message: bytes) -> bytes:
    """The message as SMTP's DATA carries it (RFC 5321 4.5.2: a line starting with "." gets
    another), ending with CRLF, so that the terminating ".\r\n" can follow."""
    # Most messages have no such line: two scans in C instead of a regular expression's.
    if message.startswith(b".") or b"\n." in message:
        message = _DOT_AT_LINE_START.sub(b"..", message)
    return message if message.endswith(CRLF) else message + CRLF
