"""Search in GraphQL: the filter inputs every growing list takes, their orderings, and the root
fields that search versions and collections across registries.

The inputs of one field (`StringFilter`, `TimeFilter`, `JsonFilter`, …) are shared; each list's
filter input holds its fields and nests `and`, `or` and `not` freely. `given` hands them to
`resolvers/search.py` as plain dicts, where the checks and limits are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from db import records
from db.search import Search, Subject
from resolvers import search
from resolvers.pages import ListQuery
from schema.connection import connection_field
from schema.context import Ctx, arg
from schema.nodes import row_id
from schema.scalars import Int64

if TYPE_CHECKING:
    from schema.collections import Collection
    from schema.registries import RegistryVisibility
    from schema.versions import ArtifactVersion

VersionType = Annotated["ArtifactVersion", strawberry.lazy("schema.versions")]
CollectionType = Annotated["Collection", strawberry.lazy("schema.collections")]
RegistryVisibilityType = Annotated["RegistryVisibility", strawberry.lazy("schema.registries")]


@strawberry.input(
    description="Conditions on a text field; all that are given hold. `prefix` and `contains` "
    "ignore case; `regex` is RE2 syntax run by PostgreSQL (at most 256 characters; `(?i)` at "
    "the start ignores case)."
)
class StringFilter:
    eq: str | None = strawberry.field(default=None, description="Exactly this.")
    in_: list[str] | None = strawberry.field(
        default=None, name="in", description="Any of these (at most 100)."
    )
    prefix: str | None = strawberry.field(default=None, description="Starts with this.")
    contains: str | None = strawberry.field(default=None, description="Holds this.")
    regex: str | None = strawberry.field(
        default=None, description="Matches this regular expression somewhere."
    )


@strawberry.input(description="A time range; all bounds that are given hold.")
class TimeFilter:
    gt: datetime | None = strawberry.field(default=None, description="After this moment.")
    gte: datetime | None = strawberry.field(default=None, description="At or after it.")
    lt: datetime | None = strawberry.field(default=None, description="Before this moment.")
    lte: datetime | None = strawberry.field(default=None, description="At or before it.")


@strawberry.input(description="Conditions on a whole number; all that are given hold.")
class IntFilter:
    eq: int | None = strawberry.field(default=None, description="Exactly this.")
    in_: list[int] | None = strawberry.field(
        default=None, name="in", description="Any of these (at most 100)."
    )
    gt: int | None = strawberry.field(default=None, description="Greater than this.")
    gte: int | None = strawberry.field(default=None, description="At least this.")
    lt: int | None = strawberry.field(default=None, description="Less than this.")
    lte: int | None = strawberry.field(default=None, description="At most this.")


@strawberry.input(description="Conditions on a size in bytes; all that are given hold.")
class SizeFilter:
    eq: Int64 | None = strawberry.field(default=None, description="Exactly this.")
    gt: Int64 | None = strawberry.field(default=None, description="Greater than this.")
    gte: Int64 | None = strawberry.field(default=None, description="At least this.")
    lt: Int64 | None = strawberry.field(default=None, description="Less than this.")
    lte: Int64 | None = strawberry.field(default=None, description="At most this.")


@strawberry.input(description="Conditions on labels (tags or aliases), case-insensitive.")
class LabelFilter:
    any: list[str] | None = strawberry.field(
        default=None, description="Holds at least one of these (at most 100)."
    )
    all: list[str] | None = strawberry.field(
        default=None, description="Holds every one of these (at most 100)."
    )


@strawberry.input(
    description="A value inside a JSON document (metadata, config, summary) at `path`: keys "
    'separated by dots, `eval.auc`; a key holding a dot in double quotes, `a."b.c"`. Order '
    "comparisons hold between numbers or between strings (by code point); a value of another "
    "type, or none at the path, does not match them. `ne` holds where `eq` does not, a missing "
    "value included. Arrays on the way are searched element by element."
)
class JsonFilter:
    path: str = strawberry.field(description="Where the value is, e.g. `eval.auc`.")
    eq: JSON | None = strawberry.field(default=strawberry.UNSET, description="Equal to this.")
    ne: JSON | None = strawberry.field(default=strawberry.UNSET, description="Not equal to this.")
    lt: JSON | None = strawberry.field(default=strawberry.UNSET, description="Less than this.")
    lte: JSON | None = strawberry.field(default=strawberry.UNSET, description="At most this.")
    gt: JSON | None = strawberry.field(default=strawberry.UNSET, description="Greater than this.")
    gte: JSON | None = strawberry.field(default=strawberry.UNSET, description="At least this.")
    in_: list[JSON | None] | None = strawberry.field(
        default=strawberry.UNSET, name="in", description="Equal to one of these (at most 100)."
    )
    exists: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether there is a value at the path (null counts)."
    )


@strawberry.enum(description="The direction of an ordering.")
class OrderDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Smallest first (A to Z, oldest first).")
    DESC = strawberry.enum_value("DESC", description="Largest first (Z to A, newest first).")


OrderPath = Annotated[
    str | None,
    strawberry.field(description="With a JSON field: the path of the value to order by."),
]
Direction = Annotated[
    OrderDirection | None,
    strawberry.field(description="ASC or DESC; by default NAME ascends and the others descend."),
]


@strawberry.input(
    description="Versions matching all the conditions given; `and`, `or` and `not` nest up to "
    "8 levels, with at most 64 conditions in all."
)
class ArtifactVersionFilter:
    and_: list[ArtifactVersionFilter] | None = strawberry.field(
        default=None, name="and", description="Every one of these holds."
    )
    or_: list[ArtifactVersionFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these holds."
    )
    not_: ArtifactVersionFilter | None = strawberry.field(
        default=None, name="not", description="This does not hold."
    )
    name: StringFilter | None = strawberry.field(
        default=None, description="The name the artifact was logged under."
    )
    collection: StringFilter | None = strawberry.field(
        default=None, description="The name of the collection it is in."
    )
    registry: StringFilter | None = strawberry.field(
        default=None, description="The name of its registry (case-insensitive)."
    )
    type: StringFilter | None = strawberry.field(default=None, description="Its artifact type.")
    digest: StringFilter | None = strawberry.field(
        default=None, description="The digest of its content."
    )
    description: StringFilter | None = strawberry.field(
        default=None, description="Its description."
    )
    version_index: IntFilter | None = strawberry.field(
        default=None, description="Its index in its collection (3 for `v3`)."
    )
    size: SizeFilter | None = strawberry.field(default=None, description="Its size in bytes.")
    created_at: TimeFilter | None = strawberry.field(
        default=None, description="When its content was logged."
    )
    linked_at: TimeFilter | None = strawberry.field(
        default=None, description="When it was linked into its collection."
    )
    created_by_run: strawberry.ID | None = strawberry.field(
        default=None, description="The run that logged it."
    )
    created_by: StringFilter | None = strawberry.field(
        default=None, description="The user whose run logged it (case-insensitive)."
    )
    linked_by: StringFilter | None = strawberry.field(
        default=None, description="The user who linked it (case-insensitive)."
    )
    tags: LabelFilter | None = strawberry.field(default=None, description="Its tags.")
    aliases: LabelFilter | None = strawberry.field(default=None, description="Its aliases.")
    collection_tags: LabelFilter | None = strawberry.field(
        default=None, description="The tags of its collection."
    )
    has_alias: bool | None = strawberry.field(
        default=None, description="Whether any alias points at it."
    )
    metadata: list[JsonFilter] | None = strawberry.field(
        default=None, description="Values inside its metadata; all hold."
    )


@strawberry.enum(description="What versions can be ordered by.")
class ArtifactVersionOrderField(Enum):
    CREATED_AT = strawberry.enum_value(
        "CREATED_AT", description="When it was created (a version: when its content was logged)."
    )
    LINKED_AT = strawberry.enum_value(
        "LINKED_AT", description="When it was linked into its collection."
    )
    NAME = strawberry.enum_value(
        "NAME",
        description="Its name, by code point (a version: its collection's name, then its index).",
    )
    VERSION_INDEX = strawberry.enum_value(
        "VERSION_INDEX", description="Its index in its collection."
    )
    SIZE = strawberry.enum_value("SIZE", description="Its size in bytes.")
    METADATA = strawberry.enum_value(
        "METADATA", description="The value at `path` inside its metadata."
    )
    RELEVANCE = strawberry.enum_value(
        "RELEVANCE",
        description="How well it matches `query`: names weigh most, then tags, then "
        "descriptions and cards.",
    )


@strawberry.input(
    description="An ordering of versions; ties are broken by the version's id, so pages "
    "never skip or repeat a version. METADATA orders by the value at `path`: null and missing "
    "values, then strings, then numbers, then booleans (ascending)."
)
class ArtifactVersionOrder:
    field: ArtifactVersionOrderField = strawberry.field(description="What to order by.")
    direction: Direction = None
    path: OrderPath = None


@strawberry.input(description="Collections matching all the conditions given.")
class CollectionFilter:
    and_: list[CollectionFilter] | None = strawberry.field(
        default=None, name="and", description="Every one of these holds."
    )
    or_: list[CollectionFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these holds."
    )
    not_: CollectionFilter | None = strawberry.field(
        default=None, name="not", description="This does not hold."
    )
    name: StringFilter | None = strawberry.field(default=None, description="Its name.")
    registry: StringFilter | None = strawberry.field(
        default=None, description="The name of its registry (case-insensitive)."
    )
    type: StringFilter | None = strawberry.field(default=None, description="Its artifact type.")
    description: StringFilter | None = strawberry.field(
        default=None, description="Its description (the card)."
    )
    created_at: TimeFilter | None = strawberry.field(
        default=None, description="When it was created."
    )
    tags: LabelFilter | None = strawberry.field(default=None, description="Its tags.")


@strawberry.enum(description="What collections can be ordered by.")
class CollectionOrderField(Enum):
    CREATED_AT = strawberry.enum_value(
        "CREATED_AT", description="When it was created (a version: when its content was logged)."
    )
    NAME = strawberry.enum_value(
        "NAME",
        description="Its name, by code point (a version: its collection's name, then its index).",
    )
    RELEVANCE = strawberry.enum_value(
        "RELEVANCE",
        description="How well it matches `query`: names weigh most, then tags, then "
        "descriptions and cards.",
    )


@strawberry.input(description="An ordering of collections; ties are broken by id.")
class CollectionOrder:
    field: CollectionOrderField = strawberry.field(description="What to order by.")
    direction: Direction = None


@strawberry.input(description="Registries matching all the conditions given.")
class RegistryFilter:
    and_: list[RegistryFilter] | None = strawberry.field(
        default=None, name="and", description="Every one of these holds."
    )
    or_: list[RegistryFilter] | None = strawberry.field(
        default=None, name="or", description="At least one of these holds."
    )
    not_: RegistryFilter | None = strawberry.field(
        default=None, name="not", description="This does not hold."
    )
    name: StringFilter | None = strawberry.field(
        default=None, description="Its name (case-insensitive)."
    )
    description: StringFilter | None = strawberry.field(
        default=None, description="Its description."
    )
    visibility: list[RegistryVisibilityType] | None = strawberry.field(
        default=None, description="Any of these visibilities."
    )
    created_at: TimeFilter | None = strawberry.field(
        default=None, description="When it was created."
    )


@strawberry.enum(description="What registries can be ordered by.")
class RegistryOrderField(Enum):
    NAME = strawberry.enum_value(
        "NAME",
        description="Its name, by code point (a version: its collection's name, then its index).",
    )
    CREATED_AT = strawberry.enum_value(
        "CREATED_AT", description="When it was created (a version: when its content was logged)."
    )
    RELEVANCE = strawberry.enum_value(
        "RELEVANCE",
        description="How well it matches `query`: names weigh most, then tags, then "
        "descriptions and cards.",
    )


@strawberry.input(description="An ordering of registries; ties are broken by id.")
class RegistryOrder:
    field: RegistryOrderField = strawberry.field(description="What to order by.")
    direction: Direction = None


def plain(value: Any) -> Any:
    """An input object as a dict keyed by its GraphQL names (fields not given left out), enums
    as their names."""
    if isinstance(value, Enum):
        return value.value
    definition = getattr(value, "__strawberry_definition__", None)
    if definition is not None:
        return {
            _name(field): plain(getattr(value, field.python_name))
            for field in definition.fields
            if getattr(value, field.python_name) is not strawberry.UNSET
        }
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def _name(field: Any) -> str:
    if field.graphql_name:
        return str(field.graphql_name)
    head, *rest = field.python_name.split("_")
    return head + "".join(part.title() for part in rest)


def given(value: Any) -> Mapping[str, Any] | None:
    """A filter or ordering input as plain dicts (run IDs decoded to row ids); None if absent."""
    if value is None:
        return None
    tree = plain(value)
    _decode_run_ids(tree)
    return tree


def _decode_run_ids(tree: dict[str, Any]) -> None:
    if tree.get("createdByRun") is not None:
        tree["createdByRun"] = row_id(tree["createdByRun"], "Run")
    for key in ("and", "or"):
        for child in tree.get(key) or ():
            _decode_run_ids(child)
    if tree.get("not") is not None:
        _decode_run_ids(tree["not"])


def search_of(
    subject: Subject, filter: Any, order_by: Any, query: str | None = None
) -> Search | None:
    """The search a list's `filter`, `orderBy` and `query` arguments ask for."""
    return search.search(subject, filter=given(filter), query=query, order_by=given(order_by))


Organization = Annotated[
    str | None,
    arg("An organization's slug: search only its registries (default: all of yours)."),
]
Query = Annotated[
    str | None,
    arg(
        "Free text: every word must start a word of a name, tag, description or card. "
        "Ordered by relevance unless `orderBy` says otherwise."
    ),
]
VersionFilterArgument = Annotated[ArtifactVersionFilter | None, arg("Only versions matching this.")]
VersionOrderArgument = Annotated[
    ArtifactVersionOrder | None, arg("The order (default: newest first, or relevance).")
]
CollectionFilterArgument = Annotated[
    CollectionFilter | None, arg("Only collections matching this.")
]
CollectionOrderArgument = Annotated[
    CollectionOrder | None, arg("The order (default: newest first, or relevance).")
]


RegistryFilterArgument = Annotated[RegistryFilter | None, arg("Only registries matching this.")]
RegistryOrderArgument = Annotated[
    RegistryOrder | None, arg("The order (default: by name, or relevance).")
]


@strawberry.type
class SearchQuery:
    @connection_field(
        VersionType,
        "Versions in every registry you may see: filtered, searched and ordered. Restricted "
        "registries you hold no role in are never searched or counted.",
    )
    async def artifact_versions(
        self,
        info: Ctx,
        organization: Organization = None,
        filter: VersionFilterArgument = None,
        query: Query = None,
        order_by: VersionOrderArgument = None,
    ) -> ListQuery[records.ArtifactVersion]:
        return await search.registry_versions(
            info.context,
            organization,
            filter=given(filter),
            query=query,
            order_by=given(order_by),
        )

    @connection_field(
        CollectionType,
        "Collections in every registry you may see: filtered, searched and ordered.",
    )
    async def collections(
        self,
        info: Ctx,
        organization: Organization = None,
        filter: CollectionFilterArgument = None,
        query: Query = None,
        order_by: CollectionOrderArgument = None,
    ) -> ListQuery[records.Collection]:
        return await search.registry_collections(
            info.context,
            organization,
            filter=given(filter),
            query=query,
            order_by=given(order_by),
        )
