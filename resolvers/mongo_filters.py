"""The W&B SDK's filters: Mongo-style JSON, translated onto the search engine's tree.

The SDK sends a filter per level of a registry search (registries, collections, versions) as a
JSON string: `{"$or": [{"tag": "x"}, {"alias": "production"}], "metadata.acc": {"$gt": 0.5},
"created_at": {"$gte": "2024-01-08"}}`. Each level's field names map onto fields of the subject
being listed, and every leaf goes through `resolvers/search.py`'s `Builder`: the same checks, the
same limits and the same SQL as Cairn's own filter inputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from db import search as engine
from db.collections import REGISTRY_COLLECTIONS
from db.pagination import ListSpec
from db.records import Organization
from db.search import AllOf, AnyOf, Filter, Negation, Search, Subject
from db.versions import REGISTRY_VERSIONS
from resolvers import registries
from resolvers.context import Context
from resolvers.pages import ListQuery
from resolvers.paths import REGISTRY_PREFIX
from resolvers.search import Builder, Where, all_of, json_path, visible_scope

# W&B's field names (with the SDK's accepted aliases) → the subject's field. A name starting
# with "registry:" names a registry and loses the prefix the SDK adds to it.
VERSION_FIELDS = {
    "id": "id",
    "artifact_id": "id",
    "tag": "tags",
    "tags": "tags",
    "alias": "aliases",
    "aliases": "aliases",
    "version": "versionIndex",
    "version_index": "versionIndex",
    "created_at": "createdAt",
    "artifact_created_at": "createdAt",
    "linked_at": "linkedAt",
    "acm_created_at": "linkedAt",
    "artifact_size": "size",
    "description": "description",
    "state": "state",
}
# The SDK narrows a registry's or a collection's listings by the number in its ID.
COLLECTION_IDS = {"id": "id", "collection_id": "id", "artifact_collection_id": "id"}
REGISTRY_IDS = {"id": "registryId", "project_id": "registryId"}
COLLECTION_FIELDS_OF_VERSIONS = {
    **dict.fromkeys(COLLECTION_IDS, "collectionId"),
    "name": "collection",
    "collection_name": "collection",
    "artifact_collection_name": "collection",
    "tag": "collectionTags",
    "tags": "collectionTags",
}
REGISTRY_FIELDS_OF_VERSIONS = {"name": "registry:registry", **REGISTRY_IDS}
COLLECTION_FIELDS = {
    **COLLECTION_IDS,
    "name": "name",
    "tag": "tags",
    "tags": "tags",
    "description": "description",
    "created_at": "createdAt",
}
REGISTRY_FIELDS_OF_COLLECTIONS = {"name": "registry:registry", **REGISTRY_IDS}
REGISTRY_FIELDS = {
    "id": "id",
    "project_id": "id",
    "name": "registry:name",
    "description": "description",
    "created_at": "createdAt",
}

# Each level's fields, by the subject listed.
LEVELS: dict[tuple[str, str], Mapping[str, str]] = {
    ("versions", "versions"): VERSION_FIELDS,
    ("versions", "collections"): COLLECTION_FIELDS_OF_VERSIONS,
    ("versions", "registries"): REGISTRY_FIELDS_OF_VERSIONS,
    ("collections", "collections"): COLLECTION_FIELDS,
    ("collections", "registries"): REGISTRY_FIELDS_OF_COLLECTIONS,
    ("registries", "registries"): REGISTRY_FIELDS,
}

# The names the SDK gives a version's metadata in a path: `metadata.auc`.
METADATA_NAMES = ("metadata", "artifact_metadata")

# One condition on a field: (operator, operand, where) → the tree's leaf.
Leaf = Callable[[str, Any, Where], Filter]

_COMPARISONS = {"$eq": "eq", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}


class Translation:
    """One level's filter onto one subject."""

    def __init__(self, subject: Subject, fields: Mapping[str, str], where: Where) -> None:
        self.builder = Builder(subject)
        self.fields = fields

    def expression(self, given: Any, where: Where, depth: int = 1) -> Filter:
        """A filter document: every key holds (field conditions, `$and`, `$or`, `$nor`, `$not`)."""
        self.builder.nested(where, depth)
        if not isinstance(given, Mapping):
            raise where.error("a filter is a JSON object")
        parts: list[Filter] = []
        for key, value in given.items():
            here = where / key
            if key in ("$and", "$or", "$nor"):
                if not isinstance(value, list):
                    raise here.error(f"`{key}` takes a list of filters")
                children = tuple(
                    self.expression(child, here / i, depth + 1) for i, child in enumerate(value)
                )
                node: Filter = AllOf(children) if key == "$and" else AnyOf(children)
                parts.append(Negation(node) if key == "$nor" else node)
            elif key == "$not":
                parts.append(Negation(self.expression(value, here, depth + 1)))
            elif key.startswith("$"):
                raise here.error(f"unknown operator {key[:80]!r} at the top of a filter")
            else:
                parts.append(self.field(key, value, here, depth))
        return all_of(parts)

    def field(self, key: str, value: Any, where: Where, depth: int) -> Filter:
        document, dot, rest = key.partition(".")
        if dot and document in METADATA_NAMES and "metadata" in self.builder.subject.documents:
            path = json_path(rest, where)
            return self._conditions(
                value, where, depth, lambda op, v, w: self._json_leaf(path, op, v, w)
            )
        target = self.fields.get(key)
        if target is None:
            known = ", ".join(sorted(self.fields))
            raise where.error(f"unknown field {key[:80]!r}; this filter takes {known}")
        return self._conditions(value, where, depth, lambda op, v, w: self._leaf(target, op, v, w))

    def _conditions(self, value: Any, where: Where, depth: int, leaf: Leaf) -> Filter:
        """A field's value: a plain value (equality), or operators, all of which hold."""
        if not isinstance(value, Mapping) or not any(k.startswith("$") for k in value):
            return leaf("$eq", value, where)
        parts: list[Filter] = []
        for op, operand in value.items():
            here = where / op
            if op == "$not":
                self.builder.nested(here, depth + 1)
                parts.append(Negation(self._conditions(operand, here, depth + 1, leaf)))
            elif op == "$nin":
                parts.append(Negation(leaf("$in", operand, here)))
            else:
                parts.append(leaf(op, operand, here))
        return all_of(parts)

    def _leaf(self, target: str, op: str, operand: Any, where: Where) -> Filter:
        if op == "$ne":
            return Negation(self._leaf(target, "$eq", operand, where))
        registry_name = target.startswith("registry:")
        field = target.removeprefix("registry:")
        spec = self.builder.subject.fields[field]
        if registry_name and op in ("$eq", "$in"):
            operand = _without_prefix(operand)
        if spec.kind == "time":
            operand = _moment(operand, where)
        if field == "versionIndex":
            operand = _version_index(operand, where)
        if spec.kind == "labels":
            ops = {"$eq": "any", "$in": "any", "$all": "all", "$contains": "any"}
            values = operand if isinstance(operand, list) else [operand]
            if op not in ops:
                raise where.error(f"{op!r} does not apply to {field}")
            return self.builder.leaf(field, ops[op], values, where)
        ops = {**_COMPARISONS, "$in": "in", "$regex": "regex", "$contains": "contains"}
        if op not in ops:
            raise where.error(f"unknown operator {op!r}")
        return self.builder.leaf(field, ops[op], operand, where)

    def _json_leaf(self, path: tuple[str, ...], op: str, operand: Any, where: Where) -> Filter:
        ops = {**_COMPARISONS, "$ne": "ne", "$in": "in", "$exists": "exists"}
        if op not in ops:
            raise where.error(f"{op!r} does not apply to values inside metadata")
        return self.builder.json_leaf("metadata", path, ops[op], operand, where)


def _without_prefix(operand: Any) -> Any:
    if isinstance(operand, str):
        return operand.removeprefix(REGISTRY_PREFIX)
    if isinstance(operand, list):
        return [_without_prefix(item) for item in operand]
    return operand


def _moment(operand: Any, where: Where) -> Any:
    if isinstance(operand, list):
        return [_moment(item, where) for item in operand]
    if not isinstance(operand, str):
        raise where.error("give a date and time as text, e.g. 2024-01-08 or 2025-03-04 13:10:00")
    try:
        moment = datetime.fromisoformat(operand)
    except ValueError:
        raise where.error(f"{operand[:40]!r} is not a date and time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _version_index(operand: Any, where: Where) -> Any:
    if isinstance(operand, list):
        return [_version_index(item, where) for item in operand]
    if isinstance(operand, str) and operand[:1] == "v" and operand[1:].isdigit():
        return int(operand[1:])
    return operand


def parse(text: str | Mapping[str, Any] | None, where: Where) -> Mapping[str, Any] | None:
    """A filter as the SDK sends it: a JSON string (a `JSONString` variable) or already decoded."""
    if text is None or isinstance(text, Mapping):
        return text
    try:
        decoded = json.loads(text)
    except ValueError as error:
        raise where.error(f"the filter is not JSON: {error}") from None
    if decoded is not None and not isinstance(decoded, dict):
        raise where.error("a filter is a JSON object")
    return decoded


def translate(
    listed: str, level: str, given: str | Mapping[str, Any] | None, argument: str = "filters"
) -> Filter | None:
    """The filter of one level (`registries`, `collections` or `versions`) of a search listing
    `listed`, as a tree of the listed subject; None for no filter."""
    where = Where((argument,))
    decoded = parse(given, where)
    if not decoded:
        return None
    return Translation(SUBJECTS[listed], LEVELS[(listed, level)], where).expression(decoded, where)


# The SDK's orderings: a field name, with `-` in front for descending.
ORDERS: dict[str, Mapping[str, str]] = {
    "registries": {"name": "NAME", "created_at": "CREATED_AT"},
    "collections": {"name": "NAME", "created_at": "CREATED_AT"},
    "versions": {
        "created_at": "CREATED_AT",
        "artifact_created_at": "CREATED_AT",
        "linked_at": "LINKED_AT",
        "acm_created_at": "LINKED_AT",
        "artifact_size": "SIZE",
    },
}
SUBJECTS = {
    "versions": engine.VERSIONS,
    "collections": engine.COLLECTIONS,
    "registries": engine.REGISTRIES,
}


def order_of(listed: str, given: str | None) -> engine.Order | None:
    if not given:
        return None
    name = given.removeprefix("-").removeprefix("+")
    found = ORDERS[listed].get(name)
    if found is None:
        known = ", ".join(sorted(ORDERS[listed]))
        raise Where(("order",)).error(
            f"{listed} cannot be ordered by {name[:80]!r}; order by one of {known}"
        )
    return engine.Order(found, descending=given.startswith("-"))


async def registry_search(
    ctx: Context,
    listed: str,
    organization: Organization,
    filters: Mapping[str, tuple[str, str | None]],
    order: str | None,
) -> ListQuery[Any]:
    """A registry search of the SDK: `listed` (registries, collections or versions) of the
    organization that the caller may see, narrowed by each level's filter (`filters` maps each
    argument's name to its level and JSON text) and ordered by `order`."""
    parts = [
        found
        for argument, (level, text) in filters.items()
        if (found := translate(listed, level, text, argument)) is not None
    ]
    search = Search(
        subject=SUBJECTS[listed],
        filter=all_of(parts) if parts else None,
        order=order_of(listed, order),
    )
    if listed == "registries":
        return await registries.registries_of(ctx, organization, search)
    scope = await visible_scope(ctx, organization)
    spec: ListSpec[Any] = REGISTRY_VERSIONS if listed == "versions" else REGISTRY_COLLECTIONS
    return ListQuery(spec, 0, search=replace(search, scope=(scope,)))


def collection_search(
    filters: str | None, order: str | None, artifact_type: str | None = None
) -> Search | None:
    """A registry's own collections (of one artifact type, if given), narrowed and ordered as
    the SDK asks."""
    parts = [found] if (found := translate("collections", "collections", filters)) else []
    if artifact_type is not None:
        type_match = Builder(engine.COLLECTIONS).leaf("type", "eq", artifact_type, Where(("type",)))
        parts.append(type_match)
    if not parts and not order:
        return None
    return Search(
        subject=engine.COLLECTIONS,
        filter=all_of(parts) if parts else None,
        order=order_of("collections", order),
    )


def version_search(filters: str | None, order: str | None) -> Search | None:
    """A collection's versions, narrowed and ordered as the SDK asks."""
    tree = translate("versions", "versions", filters)
    if tree is None and not order:
        return None
    return Search(subject=engine.VERSIONS, filter=tree, order=order_of("versions", order))
