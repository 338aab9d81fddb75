"""The directory file's shape (docs/directory-format.md) and reading it, JSON or YAML, with
errors that name the entry and field at fault."""

from __future__ import annotations

import codecs
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.vocab import Role
from bot.errors import InvalidInput
from storage.models import County

# --- The file's shape (docs/directory-format.md) -------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RegionEntry(_Entry):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    digest_channel: str | None = None


class CountyEntry(_Entry):
    fips: str = Field(pattern=r"^\d{5}$")
    name: str = Field(min_length=1)
    region: str | None = None


class ServiceEntry(_Entry):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1)


class ProgramEntry(_Entry):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    services: list[str] = Field(min_length=1)
    counties: list[str] | Literal["all"]
    insurance: list[str] = Field(default_factory=list)
    suspended: bool = False


class AgencyEntry(_Entry):
    key: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    mou_signed_on: date | None = None
    mou_expires_on: date | None = None
    programs: list[ProgramEntry] = Field(default_factory=list)


class RoleEntry(_Entry):
    role: Role
    program: str | None = None
    agency: str | None = None
    counties: list[str] | Literal["all"] | None = None


class StaffEntry(_Entry):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(min_length=1)
    agency: str | None = None
    active: bool = True
    user_mou_signed_on: date | None = None
    slack_user_id: str | None = None
    wants_digest_email: bool = False
    roles: list[RoleEntry] = Field(default_factory=list)


class NetworkEntry(_Entry):
    """Settings of the network itself (an environment variable of the same name wins)."""

    consent_required: bool | None = None
    user_mou_text: str | None = Field(default=None, min_length=20)


class DirectoryFile(_Entry):
    version: Literal[1] = 1
    network: NetworkEntry | None = None
    regions: list[RegionEntry] = Field(default_factory=list)
    counties: list[CountyEntry] = Field(default_factory=list)
    services: list[ServiceEntry] = Field(default_factory=list)
    agencies: list[AgencyEntry] = Field(default_factory=list)
    staff: list[StaffEntry] = Field(default_factory=list)


def read_directory_file(path: Path) -> DirectoryFile:
    """Parse and validate a JSON or YAML directory file; errors name file, entry and field,
    and the mistakes of a first import (encoding, BOM, empty file, syntax) say where and how."""
    kind = "YAML" if path.suffix.lower() in (".yaml", ".yml") else "JSON"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror}).", field="file") from None
    if data.startswith(codecs.BOM_UTF8):
        raise InvalidInput(
            f"{path}: starts with a byte order mark (BOM); save it as UTF-8 without BOM.",
            field="file",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"{path}: is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
            "save it as UTF-8.",
            field="file",
        ) from None
    if not text.strip():
        raise InvalidInput(f"{path}: is empty; a directory file needs agencies.", field="file")
    try:
        raw = yaml.safe_load(text) if kind == "YAML" else json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
            field="file",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput(f"{path}: not valid YAML{where}: {problem}.", field="file") from None
    return parse_directory(raw, source=str(path))


def parse_directory(raw: Any, *, source: str) -> DirectoryFile:
    try:
        return DirectoryFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(
            f"{source}: {_describe(raw, first['loc'])}: {first['msg']}.", field=_field(first["loc"])
        ) from None


def _describe(raw: Any, loc: tuple[Any, ...]) -> str:
    """'agencies[1] (key "x") programs[0] (key "y") field "counties"' for a pydantic location."""
    parts: list[str] = []
    node = raw
    for index, step in enumerate(loc):
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
            label = ""
            if isinstance(node, dict):
                ident = node.get("key") or node.get("email") or node.get("code") or node.get("fips")
                if ident is not None:
                    label = f' ({"email" if "email" in node else "key"} "{ident}")'
            parts[-1] = f"{parts[-1]}[{step}]{label}" if parts else f"[{step}]{label}"
        elif index == len(loc) - 1 or not isinstance(node, dict):
            parts.append(f'field "{step}"')
            node = None
        else:
            node = node.get(step) if isinstance(node, dict) else None
            parts.append(str(step))
    return " ".join(parts)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


@dataclass
class ImportResult:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    revoked: int = 0
    joined: int = 0
    # People the file lists as active whose access a security officer (or the idle rule) removed.
    kept_removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) or sum(self.updated.values()) or self.revoked)

    def summary(self) -> str:
        if not self.changed:
            return "Directory unchanged." + self._kept_removed_note()
        parts = [f"{n} {kind} created" for kind, n in sorted(self.created.items())]
        parts += [f"{n} {kind} updated" for kind, n in sorted(self.updated.items())]
        if self.revoked:
            parts.append(f"{self.revoked} roles revoked")
        text = "Directory imported: " + ", ".join(parts) + "."
        if self.joined:
            text += f" {self.joined} open referral(s) reached programs that joined."
        return text + self._kept_removed_note()

    def _kept_removed_note(self) -> str:
        if not self.kept_removed:
            return ""
        return (
            f" Access stays removed for {', '.join(self.kept_removed)}: a file cannot undo a "
            "removal; restore with `closeloop access restore --staff EMAIL`."
        )


def set_fields(obj: Any, result: ImportResult | None, kind: str, **values: Any) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    if changed and result is not None:
        result.updated[kind] += 1
    return changed


def bad_entry(source: str, where: str, field_name: str, message: str) -> InvalidInput:
    return InvalidInput(f'{source}: {where} field "{field_name}": {message}.', field=field_name)


def county_named(counties: dict[str, County], name: str, source: str, where: str) -> County:
    county = (
        counties.get(name)
        or counties.get(name.lower())
        or counties.get(name.lower().removesuffix(" county"))
    )
    if county is None:
        raise bad_entry(source, where, "counties", f'unknown county "{name}"')
    return county
