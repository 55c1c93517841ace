"""Search: one filter language over every list that grows, compiled to one SQL condition.

A filter is a tree (`Match` and `JsonMatch` under `AllOf`, `AnyOf`, `Negation`) whose leaves
name a field of a `Subject` (versions, collections, registries, runs); free text (`TextQuery`)
rides beside it. Every dialect
(Cairn's typed GraphQL inputs, the W&B SDK's Mongo-style JSON) builds the same tree, and this
module alone turns it into SQL: every value is a bound parameter, never text in the statement.
`Search` carries a tree and an ordering to the page and count statements of `db/pagination.py`.

Free text uses PostgreSQL's full-text search with the `simple` configuration: it is built into
every PostgreSQL (the embedded one has no pg_trgm), indexes with GIN, ranks with `ts_rank`, and
`simple` keeps identifiers like `churn-classifier-v2` as their words instead of stemming them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from db.pagination import Parameters, SortKey

# The filter tree


@dataclass(frozen=True, slots=True)
class Match:
    """A field of the subject against a value: `op` is one the field's kind accepts."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class JsonMatch:
    """A value inside a JSON document of the subject (metadata, config, summary) at `path`."""

    document: str
    path: tuple[str, ...]
    op: str  # eq, ne, lt, lte, gt, gte, in, exists
    value: Any


@dataclass(frozen=True, slots=True)
class TextQuery:
    """Free text: every word matches (as a prefix) a name, tag, description or card."""

    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    part: Filter


Filter = Match | JsonMatch | AllOf | AnyOf | Negation


# What each kind of field accepts: the dialects check a leaf against this before building it.
OPERATORS: dict[str, frozenset[str]] = {
    "text": frozenset({"eq", "in", "prefix", "contains", "regex"}),
    "time": frozenset({"gt", "gte", "lt", "lte"}),
    "number": frozenset({"eq", "in", "gt", "gte", "lt", "lte"}),
    "labels": frozenset({"any", "all"}),
    "flag": frozenset({"eq"}),
    "choice": frozenset({"in"}),
}
JSON_OPERATORS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "exists"})


@dataclass(frozen=True, slots=True)
class Field:
    """One filterable field. `sql` is an expression for text, time, number and choice kinds; for
    labels it is a condition with `{values}` (a text array) and for flags a condition."""

    kind: str
    sql: str
    sql_type: str = "text"
    case_insensitive: bool = False
    # A field that may be NULL answers false, not NULL, so that `not` inverts it exactly.
    nullable: bool = False
    # Labels: a condition on `{values}` for `any` when a list of the holders is short enough
    # to compute once per statement (an alias has at most one holder per collection).
    any_sql: str | None = None


@dataclass(frozen=True, slots=True)
class TextSearch:
    """How free text finds and ranks rows of a subject: `matches` is a condition on `{query}`
    that an index answers, `document` the weighted text that ranks the matches."""

    matches: str
    document: str


@dataclass(frozen=True, slots=True, eq=False)
class Subject:
    """What a search can ask of one kind of row. Compared by identity: each is one constant."""

    name: str
    fields: Mapping[str, Field]
    documents: Mapping[str, str]  # JSON documents by name: "metadata" → "c.metadata"
    text: TextSearch | None
    orders: Mapping[str, tuple[SortKey, ...]]  # each ends with a unique tiebreaker
    tiebreaker: SortKey


@dataclass(frozen=True, slots=True)
class Order:
    """An ordering of a subject: one of its named orders, a JSON path, or relevance."""

    name: str  # a key of `Subject.orders`, "RELEVANCE", or a document name with `path`
    descending: bool
    path: tuple[str, ...] = ()


# A condition written with `$?` for each of its (value, SQL type) pairs.
Scope = tuple[str, tuple[tuple[Any, str], ...]]


@dataclass(frozen=True, slots=True)
class Search:
    """What a list shows beyond its parent: rows matching `filter` and the free text, in `order`
    (None keeps the list's own), within `scope`: conditions the resolvers add whatever the
    caller asked (visibility), written with `$?` for each of their (value, SQL type) pairs."""

    subject: Subject
    filter: Filter | None = None
    text: TextQuery | None = None
    order: Order | None = None
    scope: tuple[Scope, ...] = ()

    def conditions(self, params: Parameters) -> list[str]:
        conditions = []
        for sql, values in self.scope:
            for value, sql_type in values:
                sql = sql.replace("$?", params.add(value, sql_type), 1)
            conditions.append(sql)
        if self.filter is not None:
            conditions.append(condition_sql(self.subject, self.filter, params))
        if self.text is not None:
            conditions.append(_text_sql(self.subject, self.text, params))
        return conditions

    def keys(self, params: Parameters) -> tuple[SortKey, ...] | None:
        """The sort keys of the order (None: the list's own), its tiebreaker last."""
        order, subject = self.order, self.subject
        if order is None:
            return None
        if order.name == "RELEVANCE":
            assert self.text is not None
            assert subject.text is not None
            every_word = params.add(tsquery_text(self.text.words), "tsquery")
            rank = SortKey(f"ts_rank({subject.text.document}, {every_word})", "real")
            return (rank, subject.tiebreaker)
        if order.path:
            document = subject.documents[order.name]
            path = params.add(list(order.path), "text[]")
            # A missing value sorts as JSON null, so that every row has a key to page by.
            value = f"coalesce({document} #> {path}, 'null'::jsonb)"
            return (SortKey(value, "jsonb"), subject.tiebreaker)
        return subject.orders[order.name]

    def cursor_name(self, list_name: str) -> str:
        """Cursors name their list and ordering: one from another ordering is refused."""
        order = self.order
        if order is None:
            return list_name
        path = ":" + ".".join(order.path) if order.path else ""
        return f"{list_name}/{order.name}{path}/{'DESC' if order.descending else 'ASC'}"


# Compiling


def _like_escaped(text: str) -> str:
    """`text` in lower case, matching itself only in a LIKE pattern."""
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _match_sql(subject: Subject, match: Match, params: Parameters, negated: bool) -> str:
    spec = subject.fields[match.field]
    condition = _field_sql(spec, match, params, negated)
    return f"coalesce({condition}, false)" if spec.nullable else condition


def _field_sql(spec: Field, match: Match, params: Parameters, negated: bool) -> str:
    expression = spec.sql
    op, value = match.op, match.value
    if spec.kind == "labels":
        values = params.add(list(value), "text[]")
        if op == "any":
            # The holders' list is worth computing where it narrows; under a `not`, the check
            # per row is cheaper than looking through the list.
            if spec.any_sql is not None and not negated:
                return spec.any_sql.replace("{values}", values)
            return f"EXISTS ({spec.sql.replace('{values}', values)})"
        # Every one of the labels: as many distinct matches as labels asked for.
        count = params.add(len(value), "integer")
        return f"(SELECT count(*) FROM ({spec.sql.replace('{values}', values)}) AS m) = {count}"
    if spec.kind == "flag":
        return expression if value else f"NOT {expression}"
    if spec.kind == "choice":
        return f"{expression}::text = ANY({params.add(list(value), 'text[]')})"
    if op in ("prefix", "contains"):
        pattern = _like_escaped(value) + "%"
        if op == "contains":
            pattern = "%" + pattern
        return f"lower({expression}) LIKE {params.add(pattern, 'text')}"
    if op == "regex":
        return f"{expression} ~ {params.add(value, 'text')}"
    if spec.case_insensitive:
        expression = f"lower({expression})"
        value = [v.lower() for v in value] if op == "in" else value.lower()
    if op == "in":
        return f"{expression} = ANY({params.add(list(value), spec.sql_type + '[]')})"
    symbol = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    return f"{expression} {symbol} {params.add(value, spec.sql_type)}"


def json_literal(value: Any) -> str:
    """A JSON scalar as a jsonpath literal (strings and keys are written as JSON strings)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def json_path(path: tuple[str, ...]) -> str:
    return "$" + "".join(f".{json_literal(key)}" for key in path)


def _json_sql(subject: Subject, match: JsonMatch, params: Parameters) -> str:
    document = subject.documents[match.document]
    accessor = json_path(match.path)
    if match.op == "exists":
        condition = f"{document} @? {params.add(accessor, 'jsonpath')}"
        return condition if match.value else f"NOT ({condition})"
    if match.op == "in":
        test = " || ".join(f"@ == {json_literal(v)}" for v in match.value)
    else:
        symbol = {"eq": "==", "ne": "==", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
        test = f"@ {symbol[match.op]} {json_literal(match.value)}"
    # `@?` with the whole test in the path lets the GIN index answer equalities.
    condition = f"{document} @? {params.add(f'{accessor} ? ({test})', 'jsonpath')}"
    return f"NOT ({condition})" if match.op == "ne" else condition


def tsquery_text(words: tuple[str, ...]) -> str:
    """Words (letters and digits only) as a tsquery where every word matches, as a prefix.
    PostgreSQL's parser reads a number after a hyphen as a signed number (`collection-042` is
    `collection` and `-042`), so a word of digits matches with a minus sign as well."""
    return " & ".join(
        f"({word}:* | '-{word}':*)" if word.isdigit() else f"{word}:*" for word in words
    )


def _text_sql(subject: Subject, query: TextQuery, params: Parameters) -> str:
    assert subject.text is not None
    every_word = params.add(tsquery_text(query.words), "tsquery")
    return subject.text.matches.replace("{query}", every_word)


def condition_sql(subject: Subject, node: Filter, params: Parameters, negated: bool = False) -> str:
    """The SQL of a filter tree; `negated` says whether an odd number of `not`s enclose it."""
    if isinstance(node, Match):
        return _match_sql(subject, node, params, negated)
    if isinstance(node, JsonMatch):
        return _json_sql(subject, node, params)
    if isinstance(node, Negation):
        return f"NOT ({condition_sql(subject, node.part, params, not negated)})"
    if not node.parts:
        return "true" if isinstance(node, AllOf) else "false"
    joiner = " AND " if isinstance(node, AllOf) else " OR "
    parts = (condition_sql(subject, part, params, negated) for part in node.parts)
    return "(" + joiner.join(parts) + ")"


# Subjects

# The registries' text index of migration 0008: the expression must stay as it is written there.
REGISTRY_TEXT = "to_tsvector('simple', r.name || ' ' || r.description)"

VERSIONS = Subject(
    name="versions",
    fields={
        "name": Field("text", "(SELECT s.name FROM collections s WHERE s.id = c.sequence_id)"),
        "collection": Field("text", "col.name"),
        "registry": Field(
            "text",
            "(SELECT rg.name FROM registries rg WHERE rg.id = col.registry_id)",
            case_insensitive=True,
            nullable=True,
        ),
        "type": Field("text", "col.artifact_type"),
        "digest": Field("text", "c.digest"),
        "description": Field("text", "v.description"),
        "versionIndex": Field("number", "v.version_index", "integer"),
        "id": Field("number", "v.id", "bigint"),
        # Cairn holds committed versions only; W&B's filters ask for them by state.
        "state": Field("text", "'COMMITTED'::text"),
        "collectionId": Field("number", "v.collection_id", "bigint"),
        "registryId": Field("number", "col.registry_id", "bigint", nullable=True),
        "size": Field("number", "c.size", "bigint"),
        "createdAt": Field("time", "c.created_at", "timestamptz"),
        "linkedAt": Field("time", "v.linked_at", "timestamptz"),
        "createdByRun": Field("number", "c.created_by_run_id", "bigint", nullable=True),
        "createdBy": Field(
            "text",
            "(SELECT u.name FROM runs rn JOIN users u ON u.id = rn.user_id "
            "WHERE rn.id = c.created_by_run_id)",
            case_insensitive=True,
            nullable=True,
        ),
        "linkedBy": Field(
            "text",
            "(SELECT u.name FROM users u WHERE u.id = v.linked_by)",
            case_insensitive=True,
            nullable=True,
        ),
        "tags": Field(
            "labels",
            "SELECT 1 FROM version_tags t WHERE t.version_id = v.id AND t.tag = ANY({values})",
        ),
        "aliases": Field(
            "labels",
            "SELECT 1 FROM aliases a WHERE a.version_id = v.id AND a.alias = ANY({values})",
            any_sql="v.id = ANY(ARRAY(SELECT a.version_id FROM aliases a "
            "WHERE a.alias = ANY({values})))",
        ),
        "hasAlias": Field("flag", "EXISTS (SELECT 1 FROM aliases a WHERE a.version_id = v.id)"),
        "collectionTags": Field(
            "labels",
            "SELECT 1 FROM collection_tags t WHERE t.collection_id = v.collection_id "
            "AND t.tag = ANY({values})",
        ),
    },
    documents={"metadata": "c.metadata"},
    # Versions and collections keep their weighted documents (migration 0008).
    text=TextSearch(matches="v.search_document @@ {query}", document="v.search_document"),
    orders={
        "CREATED_AT": (SortKey("c.created_at", "timestamptz"), SortKey("v.id", "bigint")),
        "LINKED_AT": (SortKey("v.linked_at", "timestamptz"), SortKey("v.id", "bigint")),
        "NAME": (
            SortKey('col.name COLLATE "C"', "text"),
            SortKey("v.version_index", "integer"),
            SortKey("v.id", "bigint"),
        ),
        "VERSION_INDEX": (SortKey("v.version_index", "integer"), SortKey("v.id", "bigint")),
        "SIZE": (SortKey("c.size", "bigint"), SortKey("v.id", "bigint")),
    },
    tiebreaker=SortKey("v.id", "bigint"),
)

COLLECTIONS = Subject(
    name="collections",
    fields={
        "id": Field("number", "col.id", "bigint"),
        "registryId": Field("number", "col.registry_id", "bigint", nullable=True),
        "name": Field("text", "col.name"),
        "registry": Field(
            "text",
            "(SELECT rg.name FROM registries rg WHERE rg.id = col.registry_id)",
            case_insensitive=True,
        ),
        "type": Field("text", "col.artifact_type"),
        "description": Field("text", "col.description"),
        "createdAt": Field("time", "col.created_at", "timestamptz"),
        "tags": Field(
            "labels",
            "SELECT 1 FROM collection_tags t WHERE t.collection_id = col.id "
            "AND t.tag = ANY({values})",
        ),
    },
    documents={},
    text=TextSearch(matches="col.search_document @@ {query}", document="col.search_document"),
    orders={
        "CREATED_AT": (SortKey("col.created_at", "timestamptz"), SortKey("col.id", "bigint")),
        "NAME": (SortKey('col.name COLLATE "C"', "text"), SortKey("col.id", "bigint")),
    },
    tiebreaker=SortKey("col.id", "bigint"),
)

REGISTRIES = Subject(
    name="registries",
    fields={
        "id": Field("number", "r.id", "bigint"),
        "name": Field("text", "r.name", case_insensitive=True),
        "description": Field("text", "r.description"),
        "visibility": Field("choice", "r.visibility"),
        "createdAt": Field("time", "r.created_at", "timestamptz"),
    },
    documents={},
    text=TextSearch(
        matches=f"{REGISTRY_TEXT} @@ {{query}}",
        document="""(setweight(to_tsvector('simple', r.name), 'A')
 || setweight(to_tsvector('simple', r.description), 'C'))""",
    ),
    orders={
        "NAME": (SortKey("lower(r.name)", "text"), SortKey("r.id", "bigint")),
        "CREATED_AT": (SortKey("r.created_at", "timestamptz"), SortKey("r.id", "bigint")),
    },
    tiebreaker=SortKey("r.id", "bigint"),
)

RUNS = Subject(
    name="runs",
    fields={
        "name": Field("text", "rn.name"),
        "state": Field("choice", "rn.state"),
        "user": Field(
            "text",
            "(SELECT u.name FROM users u WHERE u.id = rn.user_id)",
            case_insensitive=True,
            nullable=True,
        ),
        "createdAt": Field("time", "rn.created_at", "timestamptz"),
        "finishedAt": Field("time", "rn.finished_at", "timestamptz", nullable=True),
    },
    documents={"config": "rn.config", "summary": "rn.summary"},
    text=None,
    orders={
        "CREATED_AT": (SortKey("rn.created_at", "timestamptz"), SortKey("rn.id", "bigint")),
        "NAME": (SortKey('rn.name COLLATE "C"', "text"), SortKey("rn.id", "bigint")),
    },
    tiebreaker=SortKey("rn.id", "bigint"),
)
