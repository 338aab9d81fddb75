"""Banners above a reply and legal notices under it."""

from __future__ import annotations

from handlers.email.body_lines import MAX_PATTERN_LINE, first_text_index

# Mail gateways stamp these at the top of the body, above what the person wrote.
BANNER_STARTS = (
    "caution:",
    "caution -",
    "[external]",
    "external email",
    "external:",
    "external sender",
    "warning: this email originated",
    "this email originated from outside",
    "this message originated from outside",
    "notice: this email originated",
)
BANNER_LINES = 4

# Legal footers added under the reply by agencies' mail servers.
DISCLAIMER_STARTS = (
    "disclaimer",
    "confidentiality notice",
    "notice of confidentiality",
    "confidentiality statement",
    "privileged and confidential",
    "this e-mail and any attachment",
    "this email and any attachment",
    "this message and any attachment",
    "this e-mail message is intended",
    "this email message is intended",
    "this message is intended only",
    "the information contained in this",
    "the information in this e-mail",
    "the information in this email",
    "this email has been scanned",
    "confidential:",
    "confidential information",
    "confidentiality:",
    "statement of confidentiality",
    "important notice",
    "important confidentiality",
    "privacy notice",
    "hipaa",
    "if you are not the intended recipient",
    "if you have received this",
    "this communication",
    "this transmission",
    "this message may contain",
    "this email may contain",
    "this e-mail may contain",
    "this message contains",
    "this email contains",
    "this e-mail contains",
    "the contents of this",
    "please consider the environment",
    "aviso de confidencialidad",
    "aviso legal",
    "confidencialidad:",
    "este mensaje y sus anexos",
    "este mensaje y sus adjuntos",
    "este correo electrónico y",
    "este mensaje es confidencial",
    "este mensaje contiene",
    "la información contenida en",
    "vertraulichkeitshinweis",
    "haftungsausschluss",
    "diese e-mail enthält",
    "diese e-mail kann",
    "diese nachricht enthält",
    "diese e-mail ist vertraulich",
    "wichtiger hinweis",
)
# A notice is often framed: "*** CONFIDENTIALITY NOTICE ***", "-- Disclaimer --".
DISCLAIMER_FRAME = "*-_=~#[( "


def drop_banner(lines: list[str]) -> list[str]:
    first = first_text_index(lines)
    if first is None or len(lines[first]) > MAX_PATTERN_LINE * 2:
        return lines
    if not lines[first].strip().lower().startswith(BANNER_STARTS):
        return lines
    end = first
    while end < len(lines) and end < first + BANNER_LINES and lines[end].strip():
        end += 1
    return lines[end:]


def is_disclaimer(bare: str) -> bool:
    return bare.lower().lstrip(DISCLAIMER_FRAME).startswith(DISCLAIMER_STARTS)
