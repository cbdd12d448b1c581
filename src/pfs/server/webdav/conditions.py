"""The ``If`` request header (RFC 4918 §10.4): lists of state tokens and entity tags, optionally
tagged with the resource they are about. The header holds when any of its lists holds; the lock
tokens it names are the ones the client submits."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pfs.fs.errors import InvalidArgument


@dataclass(frozen=True)
class Condition:
    negated: bool
    #: A state token (``opaquelocktoken:…``, ``DAV:no-lock``) or None for an entity tag.
    token: str | None
    etag: str | None


@dataclass(frozen=True)
class ConditionList:
    #: The tagged resource's URL, or None for the request's own resource.
    resource: str | None
    conditions: tuple[Condition, ...]


_TOKEN = re.compile(r"\s*(<[^>]*>|\(|\)|\[[^\]]*\]|[Nn][Oo][Tt])")


def parse_if(header: str) -> list[ConditionList]:
    """The lists of an ``If`` header; a malformed one is a 400."""
    lists: list[ConditionList] = []
    resource: str | None = None
    position = 0
    current: list[Condition] | None = None
    negate = False
    text = header.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            if text[position:].strip() == "":
                break
            raise InvalidArgument(f"malformed If header: {header[:200]!r}")
        word = match.group(1)
        position = match.end()
        if word == "(":
            if current is not None:
                raise InvalidArgument(f"malformed If header: {header[:200]!r}")
            current = []
        elif word == ")":
            if not current or negate:
                raise InvalidArgument(f"malformed If header: {header[:200]!r}")
            lists.append(ConditionList(resource, tuple(current)))
            current = None
        elif word.lower() == "not":
            if current is None or negate:
                raise InvalidArgument(f"malformed If header: {header[:200]!r}")
            negate = True
        elif word.startswith("<"):
            if current is None:
                resource = word[1:-1]
            else:
                current.append(Condition(negate, word[1:-1], None))
                negate = False
        else:  # [etag]
            if current is None:
                raise InvalidArgument(f"malformed If header: {header[:200]!r}")
            current.append(Condition(negate, None, word[1:-1]))
            negate = False
    if current is not None or not lists:
        raise InvalidArgument(f"malformed If header: {header[:200]!r}")
    return lists


def submitted_tokens(lists: list[ConditionList]) -> set[str]:
    return {c.token for lst in lists for c in lst.conditions if c.token is not None}


#: What a condition is checked against: a resource's entity tag (None: it does not exist) and
#: the tokens of the locks covering it.
ResourceState = Callable[[str | None], Awaitable[tuple[str | None, set[str]]]]


async def holds(lists: list[ConditionList], state_of: ResourceState) -> bool:
    """Whether any list holds (each condition of it, negated as written)."""
    cache: dict[str | None, tuple[str | None, set[str]]] = {}
    for lst in lists:
        if lst.resource not in cache:
            cache[lst.resource] = await state_of(lst.resource)
        etag, tokens = cache[lst.resource]
        if all(_holds(c, etag, tokens) for c in lst.conditions):
            return True
    return False


def _holds(condition: Condition, etag: str | None, tokens: set[str]) -> bool:
    if condition.token is not None:
        found = condition.token in tokens
    else:
        found = etag is not None and condition.etag == etag
    return found != condition.negated
