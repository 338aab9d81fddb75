"""`render_email` once per distinct content: the emails of a fanout differ only in a name or two.

A statewide referral goes to 3,000 gatekeepers whose payloads differ in the recipient's name and
program. Rendering three Jinja templates for each was most of the cost of composing a message.
`EmailTexts` renders each distinct content once, with a marker in place of every *slot*, and puts
each recipient's values into a copy of the result.

A variable is a slot of a kind only when the templates' syntax proves that the substitution gives
the bytes a full render would: it is used nowhere but as a whole `{{ name }}` output (no filter,
test, condition, loop, assignment, macro or filter block around it), never in the subject (whose
spaces are collapsed), in templates that all escape alike; and its value is a non-empty string
without spaces at its ends (`render` strips each text). Anything else is rendered in full.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jinja2 import TemplateNotFound, meta, nodes
from markupsafe import escape

from bot.texts import (
    CONTEXT_READ_OUTSIDE_TEMPLATES,
    EmailText,
    current_zone,
    environment,
    render_email,
)

# Around an output, these change what it becomes (or whether it is output at all).
_ALTERING = (
    nodes.AssignBlock,
    nodes.CallBlock,
    nodes.EvalContextModifier,
    nodes.FilterBlock,
    nodes.Macro,
)
_MARK = "\x00"


class EmailTexts:
    """`render_email` with a bounded memo (least recently used out), one per transport."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._memo: OrderedDict[Any, EmailText] = OrderedDict()

    def __len__(self) -> int:
        """Distinct contents held."""
        return len(self._memo)

    def __call__(self, kind: str, payload: dict[str, Any], **extra: Any) -> EmailText:
        context = {**payload, **extra}
        names, read = slots(kind), variables(kind)
        values = {
            name: value
            for name, value in context.items()
            if name in names
            and type(value) is str
            and value
            and value == value.strip()
            and _MARK not in value
        }
        # What no template of the kind reads (a program's key, say) is left out of the render,
        # so it cannot tell two contents apart; a template reading it after all fails loudly.
        rest = {
            name: value for name, value in context.items() if name in read and name not in values
        }
        try:
            key = (kind, current_zone().key, tuple(sorted(values)), frozen(rest))
        except ValueError:  # a value that cannot key a memo, or that holds a marker
            return render_email(kind, payload, **extra)
        texts = self._memo.get(key)
        if texts is None:
            texts = render_email(kind, {**rest, **{name: marker(name) for name in values}})
            self._memo[key] = texts
            if len(self._memo) > self._size:
                self._memo.popitem(last=False)
        else:
            self._memo.move_to_end(key)
        if not values:
            return texts
        text, html = texts.text, texts.html
        for name, value in values.items():
            text = text.replace(marker(name), value)
            if html is not None:
                html = html.replace(marker(name), str(escape(value)))
        return EmailText(subject=texts.subject, text=text, html=html)


def marker(name: str) -> str:
    """Stands for slot `name` in a rendered text; no payload string may hold `_MARK` (`frozen`)."""
    return f"{_MARK}{name}{_MARK}"


def frozen(value: Any) -> Any:
    """A hashable key equal only for values that render alike (types kept: 1, 1.0 and True
    differ; a float by its repr, so 0.0 and -0.0 differ). ValueError for anything else."""
    kind = type(value)
    if kind is str:
        if _MARK in value:
            raise ValueError("a marker in a value")
        return value
    if kind is dict:
        return (dict, tuple((name, frozen(item)) for name, item in value.items()))
    if kind is list or kind is tuple:
        return (kind, tuple(frozen(item) for item in value))
    if kind is float:
        return (float, repr(value))
    if value is None or kind is int or kind is bool:
        return (kind, value)
    raise ValueError(f"{kind.__name__} cannot key a memo")


@lru_cache(maxsize=128)
def slots(kind: str) -> frozenset[str]:
    """The variables of `kind`'s templates that may be substituted after rendering."""
    parts = [f"email/{kind}.txt", f"email/{kind}.html"]
    subject = f"email/{kind}.subject.txt"
    try:
        closures = [closure(name) for name in parts if exists(name)]
        excluded = {
            node.name for name in closure(subject) for node in parse(name).find_all(nodes.Name)
        }
    except _Unproven:
        return frozenset()
    escaping = environment().autoescape
    plain: set[str] = set()
    spoiled: set[str] = set(excluded)
    for templates in closures:
        if callable(escaping) and len({bool(escaping(name)) for name in templates}) > 1:
            return frozenset()
        for name in templates:
            for variable, alone in uses(parse(name)):
                (plain if alone else spoiled).add(variable)
    return frozenset(plain - spoiled)


@lru_cache(maxsize=128)
def variables(kind: str) -> frozenset[str]:
    """Every variable the kind's texts may read: named in a template, or read by a filter or
    by `render_email` itself."""
    names = [f"email/{kind}.subject.txt", f"email/{kind}.txt", f"email/{kind}.html"]
    try:
        templates = {found for name in names if exists(name) for found in closure(name)}
    except _Unproven:
        return frozenset()
    return frozenset(
        {variable for name in templates for variable in named(name)}
        | CONTEXT_READ_OUTSIDE_TEMPLATES
    )


class _Unproven(Exception):
    """A template whose includes cannot be followed (a computed name)."""


def exists(name: str) -> bool:
    try:
        parse(name)
    except TemplateNotFound:
        return False
    return True


@lru_cache(maxsize=256)
def parse(name: str) -> nodes.Template:
    env = environment()
    assert env.loader is not None
    source = env.loader.get_source(env, name)[0]
    return env.parse(source, name=name)


def named(name: str) -> set[str]:
    """Every variable template `name` names (not those it includes)."""
    return {node.name for node in parse(name).find_all(nodes.Name)}


def closure(name: str) -> list[str]:
    """`name` and every template it includes or extends, transitively."""
    found: list[str] = []
    pending = [name]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.append(current)
        for referenced in meta.find_referenced_templates(parse(current)):
            if referenced is None:
                raise _Unproven(current)
            pending.append(referenced)
    return found


def uses(
    node: nodes.Node, parent: nodes.Node | None = None, altered: bool = False
) -> Iterator[tuple[str, bool]]:
    """(variable, whether this use is a whole `{{ name }}` output that nothing alters)."""
    if isinstance(node, nodes.Name):
        alone = node.ctx == "load" and isinstance(parent, nodes.Output) and not altered
        yield node.name, alone
    altered = altered or isinstance(node, _ALTERING)
    for child in node.iter_child_nodes():
        yield from uses(child, node, altered)
