"""The XML request bodies of PROPFIND, PROPPATCH and LOCK, parsed with the standard library's
expat (2.4+ refuses entity expansion bombs; external entities are never fetched), and the pieces
of the answers (``multistatus``) written as text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http import HTTPStatus
from xml.sax.saxutils import escape, quoteattr

from pfs.fs.errors import InvalidArgument

DAV = "DAV:"
#: A property's name: (namespace URI, local name); the empty URI is no namespace.
PropName = tuple[str, str]


def status_line(status: int) -> str:
    try:
        return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP/1.1 {status}"


def parse(body: bytes) -> ET.Element | None:
    """The root element of ``body``; None for an empty body; 400 for anything not XML."""
    if not body.strip():
        return None
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise InvalidArgument(f"invalid XML request body: {exc}") from None


def name_of(element: ET.Element) -> PropName:
    tag = element.tag
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def _expect(element: ET.Element, local: str) -> None:
    if name_of(element) != (DAV, local):
        raise InvalidArgument(f"invalid XML request body: expected DAV:{local}")


@dataclass(frozen=True)
class PropfindRequest:
    #: "allprop", "propname" or "prop".
    kind: str
    names: tuple[PropName, ...] = ()


def parse_propfind(body: bytes) -> PropfindRequest:
    root = parse(body)
    if root is None:
        return PropfindRequest("allprop")
    _expect(root, "propfind")
    for child in root:
        name = name_of(child)
        if name == (DAV, "allprop"):
            return PropfindRequest("allprop")
        if name == (DAV, "propname"):
            return PropfindRequest("propname")
        if name == (DAV, "prop"):
            return PropfindRequest("prop", tuple(name_of(p) for p in child))
    raise InvalidArgument("invalid XML request body: propfind needs prop, allprop or propname")


@dataclass(frozen=True)
class PropertyChange:
    name: PropName
    #: The serialised element to store; None removes the property.
    value: str | None


def parse_proppatch(body: bytes) -> list[PropertyChange]:
    root = parse(body)
    if root is None:
        raise InvalidArgument("invalid XML request body: PROPPATCH needs a propertyupdate")
    _expect(root, "propertyupdate")
    changes: list[PropertyChange] = []
    for action in root:
        kind = name_of(action)
        if kind not in ((DAV, "set"), (DAV, "remove")):
            continue
        for prop in action:
            if name_of(prop) != (DAV, "prop"):
                continue
            for element in prop:
                element.tail = None
                value = serialise(element) if kind[1] == "set" else None
                changes.append(PropertyChange(name_of(element), value))
    if not changes:
        raise InvalidArgument("invalid XML request body: propertyupdate changes nothing")
    return changes


def serialise(element: ET.Element) -> str:
    """``element`` as self-contained XML text (its namespaces declared on it)."""
    return ET.tostring(element, encoding="unicode", short_empty_elements=True)


@dataclass(frozen=True)
class LockRequest:
    exclusive: bool
    owner: str


def parse_lockinfo(root: ET.Element) -> LockRequest:
    _expect(root, "lockinfo")
    exclusive: bool | None = None
    write = False
    owner = ""
    for child in root:
        name = name_of(child)
        if name == (DAV, "lockscope"):
            for scope in child:
                if name_of(scope) == (DAV, "exclusive"):
                    exclusive = True
                elif name_of(scope) == (DAV, "shared"):
                    exclusive = False
        elif name == (DAV, "locktype"):
            write = any(name_of(t) == (DAV, "write") for t in child)
        elif name == (DAV, "owner"):
            child.tail = None
            owner = serialise(child)
    if exclusive is None or not write:
        raise InvalidArgument("invalid XML request body: lockinfo needs a lockscope and write")
    return LockRequest(exclusive, owner)


def empty_element(name: PropName) -> str:
    """An empty element of the property ``name``, its namespace declared."""
    uri, local = name
    if uri == DAV:
        return f"<D:{local}/>"
    return f"<X:{local} xmlns:X={quoteattr(uri)}/>" if uri else f'<{local} xmlns=""/>'


def element(name: PropName, inner: str) -> str:
    uri, local = name
    if uri == DAV:
        return f"<D:{local}>{inner}</D:{local}>"
    return f"<X:{local} xmlns:X={quoteattr(uri)}>{inner}</X:{local}>"


def response(href: str, propstats: list[tuple[int, list[str]]]) -> str:
    """One ``<D:response>`` with a ``propstat`` per status (property elements already written)."""
    parts = [f"<D:response><D:href>{escape(href)}</D:href>"]
    for status, props in propstats:
        parts.append(
            f"<D:propstat><D:prop>{''.join(props)}</D:prop>"
            f"<D:status>{status_line(status)}</D:status></D:propstat>"
        )
    parts.append("</D:response>")
    return "".join(parts)


def status_response(href: str, status: int) -> str:
    return (
        f"<D:response><D:href>{escape(href)}</D:href>"
        f"<D:status>{status_line(status)}</D:status></D:response>"
    )


HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">'
TAIL = "</D:multistatus>\n"
