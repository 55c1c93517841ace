"""Search: filters as callers write them, checked and bounded, turned into `db/search.py` trees.

Cairn's GraphQL filter inputs arrive here as plain dicts (`and`/`or`/`not`, one key per field,
each with its operators); `resolvers/mongo_filters.py` builds the same leaves from the W&B SDK's
Mongo-style JSON. Every leaf goes through `Builder.leaf`, so both dialects share one set of checks
and one set of limits, and an error names the part of the input at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from db import search as engine
from db.collections import REGISTRY_COLLECTIONS
from db.pagination import ListSpec
from db.records import ArtifactVersion, Collection, Organization
from db.search import (
    AllOf,
    AnyOf,
    Filter,
    JsonMatch,
    Match,
    Negation,
    Order,
    Scope,
    Search,
    Subject,
)
from db.versions import REGISTRY_VERSIONS
from resolvers import authorization, organizations, patterns
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.pages import ListQuery

# Bounds on what one search may ask: the tree, its lists, its texts and its regular expressions.
MAX_CONDITIONS = 64
# Every object of the tree, `and`/`or`/`not` and empty ones included.
MAX_NODES = 256
MAX_DEPTH = 8
MAX_VALUES = 100
MAX_TEXT = 256
MAX_REGEXES = 4
MAX_PATH_SEGMENTS = 16
MAX_KEY = 128
MAX_QUERY_WORDS = 16
# Numbers compared inside JSON: PostgreSQL's numeric holds far more, but no metadata needs it.
MAX_NUMBER_DIGITS = 100
MAX_EXPONENT = 1000

T = TypeVar("T")

_WORD = re.compile(r"[^\W_]+")


class Where:
    """Where a part sits in the caller's input, for errors: `filter.or[1].metadata[0].gt`."""

    def __init__(self, parts: tuple[str, ...]) -> None:
        self.parts = parts

    def __truediv__(self, part: str | int) -> Where:
        return Where((*self.parts, str(part)))

    def __str__(self) -> str:
        text = ""
        for part in self.parts:
            text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
        return text

    def error(self, message: str) -> DomainError:
        return DomainError(ErrorCode.INVALID_ARGUMENT, f"`{self}`: {message}", self.parts)


def _number_in_bounds(value: int | float | Decimal, where: Where) -> None:
    exact = Decimal(value) if not isinstance(value, Decimal) else value
    if not exact.is_finite():
        raise where.error("give a finite number")
    _, digits, exponent = exact.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > MAX_NUMBER_DIGITS or abs(exponent) > MAX_EXPONENT:
        raise where.error(
            f"numbers compared in JSON have at most {MAX_NUMBER_DIGITS} digits and an exponent "
            f"within ±{MAX_EXPONENT}"
        )


def json_scalar(value: Any, op: str, where: Where) -> Any:
    """A value to compare inside JSON: a number or string for order comparisons, also a boolean
    or null for (in)equality."""
    if isinstance(value, bool) or value is None:
        if op in ("lt", "lte", "gt", "gte"):
            shown = "null" if value is None else "a boolean"
            raise where.error(f"`{op}` compares numbers or strings, got {shown}")
        return value
    if isinstance(value, int | float | Decimal):
        _number_in_bounds(value, where)
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise where.error(f"a string to compare is at most {MAX_TEXT} characters")
        return value
    raise where.error("compare with a number, string, boolean or null, not a list or object")


def json_path(text: str, where: Where) -> tuple[str, ...]:
    """`eval.auc` as its keys. A key holding a dot is written in double quotes: `a."b.c"`."""
    longest = MAX_PATH_SEGMENTS * (MAX_KEY + 3)
    if len(text) > longest:
        raise where.error(f"a path is at most {longest} characters")
    keys: list[str] = []
    rest = text
    while True:
        if rest.startswith('"'):
            end = rest.find('"', 1)
            if end < 0:
                raise where.error(f"the path {text!r} opens a quoted key it never closes")
            key, rest = rest[1:end], rest[end + 1 :]
            if rest and not rest.startswith("."):
                raise where.error(f"in the path {text!r}, a quoted key must be followed by a dot")
        else:
            key, dot, rest = rest.partition(".")
            rest = dot + rest
        if not key:
            raise where.error(
                f"the path {text!r} has an empty key (write keys separated by single dots)"
            )
        if len(key) > MAX_KEY or "\x00" in key:
            raise where.error(f"a key of the path is at most {MAX_KEY} characters, without NUL")
        keys.append(key)
        if not rest:
            break
        rest = rest[1:]
        if not rest:
            raise where.error(f"the path {text!r} ends with a dot")
    if len(keys) > MAX_PATH_SEGMENTS:
        raise where.error(f"a path has at most {MAX_PATH_SEGMENTS} keys")
    return tuple(keys)


def text_query(query: str, where: Where) -> engine.TextQuery:
    """Free text as its words (letters and digits); each must match, as a prefix."""
    if len(query) > MAX_TEXT:
        raise where.error(f"the query is at most {MAX_TEXT} characters")
    words = tuple(dict.fromkeys(word.lower() for word in _WORD.findall(query)))
    if not words:
        raise where.error("the query has no words to search for (letters or digits)")
    if len(words) > MAX_QUERY_WORDS:
        raise where.error(f"the query has at most {MAX_QUERY_WORDS} words")
    return engine.TextQuery(words)


def all_of(parts: Sequence[Filter]) -> Filter:
    """The conjunction of `parts`: the one part itself when there is one; none holds always."""
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


class Builder:
    """Builds one search's filter, counting what it asks against the limits."""

    def __init__(self, subject: Subject) -> None:
        self.subject = subject
        self.conditions = 0
        self.nodes = 0
        self.regexes = 0

    def _count(self, where: Where) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise where.error(f"a filter has at most {MAX_CONDITIONS} conditions")

    def nested(self, where: Where, depth: int) -> None:
        """Counts one more object of the tree, `depth` levels down."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise where.error(f"a filter has at most {MAX_NODES} objects in all")
        if depth > MAX_DEPTH:
            raise where.error(f"`and`, `or` and `not` nest at most {MAX_DEPTH} levels deep")

    def _text(self, value: Any, where: Where) -> str:
        if not isinstance(value, str):
            raise where.error("give a string")
        if len(value) > MAX_TEXT:
            raise where.error(f"at most {MAX_TEXT} characters")
        return value

    def _values(self, value: Any, where: Where) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise where.error("give a list")
        if not value:
            raise where.error("give at least one value")
        if len(value) > MAX_VALUES:
            raise where.error(f"at most {MAX_VALUES} values")
        return list(value)

    def leaf(self, field: str, op: str, value: Any, where: Where) -> Match:
        """One field of the subject against a value, checked for the field's kind."""
        spec = self.subject.fields.get(field)
        if spec is None:
            known = ", ".join(sorted(self.subject.fields))
            raise where.error(f"{self.subject.name} have no field {field!r}; they have {known}")
        if op not in engine.OPERATORS[spec.kind]:
            accepted = ", ".join(sorted(engine.OPERATORS[spec.kind]))
            raise where.error(f"{field!r} takes {accepted}, not {op!r}")
        self._count(where)
        checked: Any
        if spec.kind == "text":
            if op == "in":
                checked = tuple(
                    self._text(v, where / i) for i, v in enumerate(self._values(value, where))
                )
            else:
                checked = self._text(value, where)
                if op == "regex":
                    self.regexes += 1
                    if self.regexes > MAX_REGEXES:
                        raise where.error(f"a search has at most {MAX_REGEXES} regular expressions")
                    try:
                        patterns.check(checked, str(where))
                    except DomainError as error:
                        raise where.error(error.message) from None
        elif spec.kind == "labels":
            values = self._values(value, where)
            checked = tuple(
                dict.fromkeys(self._text(v, where / i).lower() for i, v in enumerate(values))
            )
        elif spec.kind == "flag":
            if not isinstance(value, bool):
                raise where.error("give true or false")
            checked = value
        elif spec.kind == "choice":
            checked = tuple(
                self._text(v, where / i) for i, v in enumerate(self._values(value, where))
            )
        elif spec.kind == "time":
            if not isinstance(value, datetime):
                raise where.error("give a date and time")
            checked = value
        else:
            checked = (
                tuple(
                    self._integer(v, spec.sql_type, where / i)
                    for i, v in enumerate(self._values(value, where))
                )
                if op == "in"
                else self._integer(value, spec.sql_type, where)
            )
        return Match(field, op, checked)

    def _integer(self, value: Any, sql_type: str, where: Where) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise where.error("give a whole number")
        bound = 2**31 if sql_type == "integer" else 2**63
        if not -bound <= value < bound:
            raise where.error(f"{value} is out of range")
        return value

    def json_leaf(
        self, document: str, path: tuple[str, ...], op: str, value: Any, where: Where
    ) -> JsonMatch:
        if document not in self.subject.documents:
            raise where.error(f"{self.subject.name} have no JSON document {document!r}")
        if op not in engine.JSON_OPERATORS:
            accepted = ", ".join(sorted(engine.JSON_OPERATORS))
            raise where.error(f"a JSON value takes {accepted}, not {op!r}")
        self._count(where)
        checked: Any
        if op == "exists":
            if not isinstance(value, bool):
                raise where.error("give true or false")
            checked = value
        elif op == "in":
            values = self._values(value, where)
            checked = tuple(json_scalar(v, op, where / i) for i, v in enumerate(values))
        else:
            checked = json_scalar(value, op, where)
        return JsonMatch(document, path, op, checked)

    def typed(self, given: Mapping[str, Any], where: Where, depth: int = 1) -> Filter:
        """A filter input object: its fields and nested `and`/`or`/`not`, all of which hold."""
        self.nested(where, depth)
        parts: list[Filter] = []
        for key, value in given.items():
            if value is None:
                continue
            here = where / key
            if key in ("and", "or"):
                children = tuple(
                    self.typed(child, here / i, depth + 1) for i, child in enumerate(value)
                )
                parts.append(AllOf(children) if key == "and" else AnyOf(children))
            elif key == "not":
                parts.append(Negation(self.typed(value, here, depth + 1)))
            elif key in self.subject.documents:
                for i, condition in enumerate(value):
                    parts.append(all_of(self._typed_json(key, condition, here / i)))
            elif isinstance(value, Mapping):
                leaves = [
                    self.leaf(key, op, operand, here / op)
                    for op, operand in value.items()
                    if operand is not None
                ]
                if leaves:
                    parts.append(all_of(leaves))
            elif isinstance(value, list | tuple):
                parts.append(self.leaf(key, "in", value, here))
            else:
                parts.append(self.leaf(key, "eq", value, here))
        return all_of(parts)

    def _typed_json(
        self, document: str, condition: Mapping[str, Any], where: Where
    ) -> list[Filter]:
        path = json_path(condition["path"], where / "path")
        found = [
            self.json_leaf(document, path, op, operand, where / op)
            for op, operand in condition.items()
            if op != "path"
        ]
        if not found:
            raise where.error(
                "give an operator besides `path` (eq, ne, lt, lte, gt, gte, in, exists)"
            )
        return list(found)


def order(subject: Subject, given: Mapping[str, Any] | None, has_text: bool) -> Order | None:
    """The requested ordering: a named one, a JSON path (`field: METADATA, path: …`) or
    RELEVANCE, which free text orders by unless told otherwise."""
    where = Where(("orderBy",))
    if given is None:
        return Order("RELEVANCE", descending=True) if has_text else None
    name = given["field"]
    direction = given.get("direction")
    descending = direction != "ASC" if direction else name != "NAME"
    path_text = given.get("path")
    if name == "RELEVANCE":
        if not has_text:
            raise (where / "field").error("RELEVANCE orders the matches of a `query`; give one")
        return Order(name, descending)
    document = name.lower()
    if document in subject.documents:
        if not path_text:
            raise (where / "path").error(f"ordering by {name} needs the `path` of a value in it")
        return Order(document, descending, json_path(path_text, where / "path"))
    if path_text:
        raise (where / "path").error(f"`path` goes with a JSON field, not {name}")
    if name not in subject.orders:
        raise (where / "field").error(f"{subject.name} cannot be ordered by {name}")
    return Order(name, descending)


def search(
    subject: Subject,
    *,
    filter: Mapping[str, Any] | None = None,
    query: str | None = None,
    order_by: Mapping[str, Any] | None = None,
    scope: Sequence[Scope] = (),
) -> Search | None:
    """The search a list's arguments ask for, None when they ask for none."""
    if filter is None and query is None and order_by is None and not scope:
        return None
    built = Builder(subject).typed(filter, Where(("filter",))) if filter is not None else None
    text = None
    if query is not None:
        if subject.text is None:
            raise Where(("query",)).error(f"{subject.name} have no free-text search")
        text = text_query(query, Where(("query",)))
    return Search(
        subject=subject,
        filter=built,
        text=text,
        order=order(subject, order_by, text is not None),
        scope=tuple(scope),
    )


# Across registries: what the caller may see, as conditions on the registry `r` of each row.
_VISIBLE = """(r.organization_id = ANY($?) AND (r.visibility = 'ORGANIZATION'
OR r.organization_id = ANY($?) OR r.id = ANY($?)))"""


def registries_scope(
    organization_ids: Sequence[int], admin_of: Sequence[int], with_role: Sequence[int]
) -> Scope:
    """Registries of `organization_ids` that are ORGANIZATION-wide, every one of those in
    `admin_of`, and those in `with_role`."""
    values = (
        (tuple(organization_ids), "bigint[]"),
        (tuple(admin_of), "bigint[]"),
        (tuple(with_role), "bigint[]"),
    )
    return _VISIBLE, values


async def visible_scope(ctx: Context, organization: Organization | None) -> Scope:
    """The registries a search across registries may look into: ORGANIZATION ones in the
    caller's organizations (or the one named), every one where they are organization admin, and
    restricted ones where they hold a role."""
    roles = ctx.principal.organization_roles
    organization_ids = sorted(roles) if organization is None else [organization.id]
    admin_of = [o for o in organization_ids if roles.get(o) == "ADMIN"]
    return registries_scope(
        organization_ids, admin_of, await authorization.registries_with_role(ctx)
    )


async def _search_registries(
    ctx: Context,
    spec: ListSpec[T],
    subject: Subject,
    organization_name: str | None,
    given: Mapping[str, Any],
) -> ListQuery[T]:
    organization = None
    if organization_name is not None:
        organization = await organizations.organization_by_name(ctx, organization_name)
        if organization is None:
            raise not_found(f"no organization named {organization_name!r}", ("organization",))
    scope = await visible_scope(ctx, organization)
    return ListQuery(spec, 0, search=search(subject, **given, scope=[scope]))


async def registry_versions(
    ctx: Context,
    organization_name: str | None,
    *,
    filter: Mapping[str, Any] | None,
    query: str | None,
    order_by: Mapping[str, Any] | None,
) -> ListQuery[ArtifactVersion]:
    """Versions in every registry the caller may see (of one organization, if named)."""
    given = {"filter": filter, "query": query, "order_by": order_by}
    return await _search_registries(
        ctx, REGISTRY_VERSIONS, engine.VERSIONS, organization_name, given
    )


async def registry_collections(
    ctx: Context,
    organization_name: str | None,
    *,
    filter: Mapping[str, Any] | None,
    query: str | None,
    order_by: Mapping[str, Any] | None,
) -> ListQuery[Collection]:
    """Collections in every registry the caller may see (of one organization, if named)."""
    given = {"filter": filter, "query": query, "order_by": order_by}
    return await _search_registries(
        ctx, REGISTRY_COLLECTIONS, engine.COLLECTIONS, organization_name, given
    )
