"""What one document may ask for, and the caches of parsed and validated documents.

Depth and aliases are measured in one walk of the document, with each fragment measured once
however often it is spread, unknown fragments and cycles left to the rules that report them: a
document cannot make the measuring itself slow or deep. The caches keep small documents only and
are bounded by the bytes of the documents they hold, not by their number.

A document seen for the first time is often one seen before with other literal values (a script
that writes a path into its query): when a document of the same shape (every string and number
literal replaced by its kind) passed validation, only the rules that read literal values run
again on the new one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    BREAK,
    DeferStreamDirectiveLabel,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    OverlappingFieldsCanBeMergedRule,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    ValuesOfCorrectTypeRule,
    validate,
)
from strawberry.extensions import SchemaExtension

MAX_DEPTH = 15
MAX_ALIASES = 50
MAX_TOKENS = 5_000
# Documents longer than this are parsed and validated for each request, never kept.
MAX_CACHED_DOCUMENT = 16 * 1024
# What the cache may hold in all, counted in the documents' characters.
CACHE_BUDGET = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int  # nested fields that select fields of their own
    aliases: int  # aliased fields, each counted as often as its fragment is spread

    def add(self, other: Measure) -> Measure:
        return Measure(max(self.depth, other.depth), self.aliases + other.aliases)


NOTHING = Measure(0, 0)


def fragment_measures(document: DocumentNode) -> dict[str, Measure]:
    """Each fragment's measure, computed once each in dependency order without recursion
    across fragments, so that a long chain of spreads cannot exhaust the stack. A fragment
    spreading itself, directly or not, counts as nothing there (the cycle is refused anyway)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measures: dict[str, Measure] = {}
    in_progress: set[str] = set()
    for name in fragments:
        stack = [name]
        while stack:
            current = stack[-1]
            if current in measures:
                stack.pop()
                continue
            in_progress.add(current)
            pending = [
                spread
                for spread in _spreads(fragments[current].selection_set)
                if spread in fragments and spread not in measures and spread not in in_progress
            ]
            if pending:
                stack.extend(pending)
                continue
            measures[current] = _measure(fragments[current].selection_set, measures)
            in_progress.discard(current)
            stack.pop()
    return measures


def _spreads(selection_set: SelectionSetNode) -> Iterator[str]:
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)


def _measure(selection_set: SelectionSetNode, fragments: dict[str, Measure]) -> Measure:
    """The measure of a selection set, given its fragments' (missing ones count as nothing).
    The recursion follows the document's own nesting, which the parser bounds."""
    total = NOTHING
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            aliases = 1 if selection.alias is not None else 0
            if selection.selection_set is None or selection.name.value.startswith("__"):
                total = total.add(Measure(0, aliases))
                continue
            inner = _measure(selection.selection_set, fragments)
            total = total.add(Measure(1 + inner.depth, aliases + inner.aliases))
        elif isinstance(selection, FragmentSpreadNode):
            total = total.add(fragments.get(selection.name.value, NOTHING))
        elif isinstance(selection, InlineFragmentNode):
            total = total.add(_measure(selection.selection_set, fragments))
    return total


class DocumentLimits(ValidationRule):
    """Refuses operations nested deeper than MAX_DEPTH or with more than MAX_ALIASES aliases
    in all."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        fragments = fragment_measures(context.document)
        aliases = 0
        for definition in context.document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            measure = _measure(definition.selection_set, fragments)
            aliases += measure.aliases
            if measure.depth > MAX_DEPTH:
                name = definition.name.value if definition.name else "anonymous"
                context.report_error(
                    GraphQLError(
                        f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}", [definition]
                    )
                )
        if aliases > MAX_ALIASES:
            context.report_error(GraphQLError(f"{aliases} aliases found. Allowed: {MAX_ALIASES}"))


# Literals whose values a document's shape leaves out; booleans, nulls and enum values stay in
# it, since rules other than those below read them (`@defer(if: false)`, explicit nulls).
_SHAPELESS = frozenset({"string_value", "int_value", "float_value"})


def document_shape(document: DocumentNode) -> str:
    """The document with every string and number literal replaced by its kind: two documents
    of one shape differ only in those values."""
    out: list[str] = []

    def walk(node: Node) -> None:
        kind = node.kind
        out.append(kind)
        if kind in _SHAPELESS:
            return
        for key in node.keys:
            if key == "loc":
                continue
            value = getattr(node, key)
            if isinstance(value, Node):
                walk(value)
            elif isinstance(value, tuple | list):
                out.append("(")
                for item in value:
                    walk(item)
                out.append(")")
            elif value is not None:
                out.append(str(value))

    walk(document)
    return " ".join(out)


class DocumentCache(SchemaExtension):
    """Parses and validates each small document once: the parsed document and its validation
    errors are kept, least recently used first out, within CACHE_BUDGET characters. Larger
    documents (up to the body limit, comments included) are never kept."""

    # One cache for the process, shared by every request.
    _entries: OrderedDict[str, tuple[DocumentNode, list[GraphQLError]]] = OrderedDict()
    _size = 0
    # The shapes of documents that passed validation (see the module's doc).
    _valid_shapes: OrderedDict[str, None] = OrderedDict()
    _shapes_size = 0

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        entry = None if context.query is None else self._entries.get(context.query)
        if entry is not None:
            # Strawberry parses only when no document is set yet.
            self._entries.move_to_end(context.query)  # type: ignore[arg-type]
            context.graphql_document = entry[0]
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        entry = None if query is None else self._entries.get(query)
        if entry is not None and entry[0] is context.graphql_document:
            # Strawberry validates only when no errors (not even an empty list) are set yet.
            context.pre_execution_errors = entry[1]
            yield
            return
        document = context.graphql_document
        if query is None or document is None or len(query) > MAX_CACHED_DOCUMENT:
            yield
            return
        shape = document_shape(document)
        if shape in self._valid_shapes:
            self._valid_shapes.move_to_end(shape)
            schema = context.schema._schema
            context.pre_execution_errors = validate(schema, document, VALUE_RULES)
        yield
        errors = list(context.pre_execution_errors or [])
        self._keep(query, document, errors)
        if not errors:
            self._keep_shape(shape)

    @classmethod
    def _keep(cls, query: str, document: DocumentNode, errors: list[GraphQLError]) -> None:
        if query in cls._entries:
            return
        cls._entries[query] = (document, errors)
        cls._size += len(query)
        while cls._size > CACHE_BUDGET:
            evicted, _ = cls._entries.popitem(last=False)
            cls._size -= len(evicted)

    @classmethod
    def _keep_shape(cls, shape: str) -> None:
        if shape in cls._valid_shapes:
            return
        cls._valid_shapes[shape] = None
        cls._shapes_size += len(shape)
        while cls._shapes_size > CACHE_BUDGET:
            evicted, _ = cls._valid_shapes.popitem(last=False)
            cls._shapes_size -= len(evicted)

    @classmethod
    def held(cls) -> tuple[int, int]:
        """(documents, characters) the cache holds."""
        return len(cls._entries), cls._size

    @classmethod
    def clear(cls) -> None:
        cls._entries.clear()
        cls._size = 0
        cls._valid_shapes.clear()
        cls._shapes_size = 0


def _nul_at(value: Any, path: str) -> str | None:
    """Where in a variable's value a NUL character is (`$input.tags[2]`), if anywhere."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
        elif isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key:
                    return f"{where} (a key)"
                stack.append((inner, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}[{i}]") for i, inner in enumerate(item))
    return None


class NoNulInLiterals(ValidationRule):
    """A string literal holding NUL, refused with the document's validation, which is cached
    with it: no cost per request for a document seen before."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if "\x00" in node.value:
            self.report_error(_nul_error("a string in the document", node))
            return BREAK
        return None


# What a document of a shape that passed validation is checked for again: the rules that read
# literal values (types and ranges, arguments of fields merged under one name, @defer labels,
# NUL characters).
VALUE_RULES = (
    ValuesOfCorrectTypeRule,
    OverlappingFieldsCanBeMergedRule,
    DeferStreamDirectiveLabel,
    NoNulInLiterals,
)


class NoNulInVariables(SchemaExtension):
    """PostgreSQL text cannot hold the NUL character: a name, pattern or JSON value with one
    could never be stored or found. Refused at the door for every variable, with an error that
    names where it is, before anything runs (literals: NoNulInLiterals)."""

    def on_execute(self) -> Iterator[None]:
        for name, value in (self.execution_context.variables or {}).items():
            where = _nul_at(value, f"${name}")
            if where is not None:
                raise _nul_error(f"`{where}`")
        yield


def _nul_error(where: str, node: StringValueNode | None = None) -> GraphQLError:
    return GraphQLError(
        f"{where} holds a NUL character (\\u0000), which no text may contain",
        node,
        extensions={"code": "BAD_USER_INPUT"},
    )
