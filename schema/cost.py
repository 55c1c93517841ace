"""What an operation costs: the objects its answer may hold, known before it runs, and the
objects it held, counted after.

The requested cost is an upper estimate from the document and its variables: every field that
returns an object costs 1 for each object it may return. A connection's `edges` and `nodes`
count its page size (`first` or `last`, else the default page), `nodes(ids:)` the IDs given, a
lineage walk's lists its `maxNodes`, and any other list LIST_ESTIMATE items. Each root mutation
field adds MUTATION_COST. Introspection is free. A field selected several times through fragments
is one field of the answer and is counted once, as execution merges it. An operation whose
requested cost exceeds MAX_COST is refused before it runs; one whose key's bucket holds less
than its requested cost is throttled. Then it runs once its requested cost fits in the
process's execution budget (`resolvers.throttle.ExecutionBudget`), waiting its turn otherwise.
After it runs, what it did not use goes back into the bucket, and `extensions.cost` reports both
figures and the bucket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
)
from strawberry.extensions import SchemaExtension

from db.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from resolvers.context import Context
from resolvers.lineage import DEFAULT_NODES, MAX_NODES
from resolvers.throttle import retry_after_header

MAX_COST = 25_000
MUTATION_COST = 10
LIST_ESTIMATE = 10
# Walks without a `maxNodes` argument: their lists are estimated at the default node count.
_WALKS_WITHOUT_LIMIT = frozenset({"lineageDiff"})


@dataclass(slots=True)
class Selected:
    """One response key of an object: the field, what it returns, and every selection made of
    it (a key selected in several fragments is one field of the answer)."""

    field: FieldNode
    definition: GraphQLField
    returned: GraphQLNamedType
    selection_sets: list[SelectionSetNode]


class Selections:
    """The object-valued fields an operation selects, collected by response key through
    fragments as execution collects them: each fragment spread once per object, however often
    it is spread there, so a document of fragments that spread each other many times is
    walked in time proportional to its size. Introspection fields are left out: they are free."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        # Every object of a list is selected the same way: collected once per selection.
        self._collected: dict[tuple[tuple[int, ...], str], dict[str, Selected]] = {}

    def of(
        self, selection_sets: list[SelectionSetNode], parent: GraphQLNamedType
    ) -> dict[str, Selected]:
        key = (tuple(id(s) for s in selection_sets), parent.name)
        fields = self._collected.get(key)
        if fields is None:
            fields = {}
            visited: set[str] = set()
            for selection_set in selection_sets:
                self._collect(selection_set, parent, fields, visited)
            self._collected[key] = fields
        return fields

    def _collect(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        fields: dict[str, Selected],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                definition = getattr(parent, "fields", {}).get(name)
                if name.startswith("__") or definition is None or selection.selection_set is None:
                    continue
                key = (selection.alias or selection.name).value
                if key not in fields:
                    returned = get_named_type(definition.type)
                    fields[key] = Selected(selection, definition, returned, [])
                fields[key].selection_sets.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = parent if condition is None else self.schema.get_type(condition.name.value)
                if inner is not None:
                    self._collect(selection.selection_set, inner, fields, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in visited:
                    continue
                visited.add(name)
                on = self.schema.get_type(fragment.type_condition.name.value)
                if on is not None:
                    self._collect(fragment.selection_set, on, fields, visited)


def _bounded(value: Any, default: int, maximum: int) -> int:
    """An argument's value as a size: the default when absent or not a whole number (execution
    reports that), clamped to what the resolver accepts."""
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return max(0, min(value, maximum))


class CostEstimate:
    """The requested cost of one operation, with `variables`."""

    def __init__(self, selections: Selections, variables: Mapping[str, Any]) -> None:
        self.selections = selections
        self.variables = variables

    def _argument(self, field: FieldNode, name: str) -> Any:
        for argument in field.arguments or ():
            if argument.name.value == name:
                node = argument.value
                if isinstance(node, VariableNode):
                    return self.variables.get(node.name.value)
                if isinstance(node, IntValueNode):
                    return int(node.value)
                if isinstance(node, ListValueNode):
                    return list(node.values)
        return None

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.selections.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        cost = self.objects([operation.selection_set], root, None)
        if operation.operation is OperationType.MUTATION:
            cost += MUTATION_COST * len(self.selections.of([operation.selection_set], root))
        return cost

    def objects(
        self,
        selection_sets: list[SelectionSetNode],
        parent: GraphQLNamedType,
        list_size: int | None,
    ) -> int:
        """The objects below one object of `parent`, whose list fields hold `list_size` items
        when it is a page or a walk (None otherwise)."""
        total = 0
        for selected in self.selections.of(selection_sets, parent).values():
            if not is_composite_type(selected.returned):
                continue
            count = 1
            if isinstance(get_nullable_type(selected.definition.type), GraphQLList):
                ids = self._argument(selected.field, "ids")
                if list_size is not None:
                    count = list_size
                elif isinstance(ids, list):
                    count = len(ids)
                else:
                    count = LIST_ESTIMATE
            inner = self._list_size(selected)
            total += count * (1 + self.objects(selected.selection_sets, selected.returned, inner))
        return total

    def _list_size(self, selected: Selected) -> int | None:
        """How many items the lists of the object `selected` returns hold: a page's size, a
        walk's node limit; None for other objects."""
        if "pageInfo" in getattr(selected.returned, "fields", {}):
            first = self._argument(selected.field, "first")
            last = self._argument(selected.field, "last")
            if first is None and last is None:
                return DEFAULT_PAGE_SIZE
            return max(
                _bounded(first, 0, MAX_PAGE_SIZE),
                _bounded(last, 0, MAX_PAGE_SIZE),
            )
        if "maxNodes" in selected.definition.args:
            return _bounded(self._argument(selected.field, "maxNodes"), DEFAULT_NODES, MAX_NODES)
        if selected.field.name.value in _WALKS_WITHOUT_LIMIT:
            return DEFAULT_NODES
        return None


def _number(value: float) -> float | int:
    """Whole numbers as integers, as configured limits usually are."""
    return int(value) if value == int(value) else value


def chosen_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


# The object-valued fields of one object, each with the same for the objects it holds.
Plan = list[tuple[str, "Plan"]]


class ActualCount:
    """The objects an answer holds, found by walking `data` with the operation's selections:
    JSON values (metadata, config) are scalars however many objects they nest. The selections
    are resolved into a plan once; the walk over the answer is then a loop without calls."""

    def __init__(self, selections: Selections) -> None:
        self.selections = selections
        self._plans: dict[tuple[tuple[int, ...], str], Plan] = {}

    def _plan(self, selection_sets: list[SelectionSetNode], parent: GraphQLNamedType) -> Plan:
        key = (tuple(id(s) for s in selection_sets), parent.name)
        plan = self._plans.get(key)
        if plan is None:
            plan = [
                (name, self._plan(selected.selection_sets, selected.returned))
                for name, selected in self.selections.of(selection_sets, parent).items()
                if is_composite_type(selected.returned)
            ]
            self._plans[key] = plan
        return plan

    def operation(self, operation: OperationDefinitionNode, data: Any) -> int:
        root = self.selections.schema.get_root_type(operation.operation)
        if root is None or not isinstance(data, dict):
            return 0
        count = 0
        stack: list[tuple[Any, Plan]] = [(data, self._plan([operation.selection_set], root))]
        while stack:
            value, plan = stack.pop()
            for name, inner in plan:
                child = value.get(name)
                if isinstance(child, dict):
                    count += 1
                    stack.append((child, inner))
                elif isinstance(child, list):
                    pending = list(child)
                    while pending:
                        item = pending.pop()
                        if isinstance(item, dict):
                            count += 1
                            stack.append((item, inner))
                        elif isinstance(item, list):
                            pending.extend(item)
        if operation.operation is OperationType.MUTATION:
            count += MUTATION_COST * len(data)
        return count


class QueryCost(SchemaExtension):
    """Refuses operations that would cost more than MAX_COST, charges the caller's bucket, and
    reports the cost in `extensions.cost`."""

    requested: int | None = None
    actual: int | None = None
    available: float | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = None if document is None else chosen_operation(document, context.operation_name)
        if document is None or operation is None:
            yield
            return
        selections = Selections(context.schema._schema, document)
        self.requested = CostEstimate(selections, context.variables or {}).operation(operation)
        if self.requested > MAX_COST:
            raise GraphQLError(
                f"the operation's requested cost is {self.requested}, above the maximum of "
                f"{MAX_COST}: ask for smaller pages (`first`, `last`, `maxNodes`) or fewer fields",
                extensions={
                    "code": "MAX_COST_EXCEEDED",
                    "requestedQueryCost": self.requested,
                    "maxCost": MAX_COST,
                },
            )
        ctx: Context = context.context
        throttle = getattr(ctx, "throttle", None)
        key = getattr(getattr(ctx, "principal", None), "key_id", None)
        if throttle is not None and key is not None:
            charge = throttle.take(key, self.requested)
            self.available = charge.available
            if not charge.allowed:
                raise GraphQLError(
                    f"throttled: this key has {int(charge.available)} cost points left and the "
                    f"operation asks for {self.requested}; retry in "
                    f"{retry_after_header(charge.retry_after)} s",
                    extensions={
                        "code": "THROTTLED",
                        "retryAfterSeconds": int(retry_after_header(charge.retry_after)),
                    },
                )
        if isinstance(ctx, Context):
            ctx.requested_cost = self.requested
        yield
        result = context.result
        if context.operation_type is OperationType.SUBSCRIPTION or result is None:
            return
        self.actual = ActualCount(selections).operation(operation, getattr(result, "data", None))
        if throttle is not None and key is not None:
            self.available = throttle.refund(key, self.requested - self.actual)

    def get_results(self) -> dict[str, Any]:
        if self.requested is None:
            return {}
        cost: dict[str, Any] = {"requestedQueryCost": self.requested}
        if self.actual is not None:
            cost["actualQueryCost"] = self.actual
        throttle = getattr(self.execution_context.context, "throttle", None)
        if throttle is not None and self.available is not None:
            cost["throttleStatus"] = {
                "maximumAvailable": _number(throttle.capacity),
                "currentlyAvailable": int(self.available),
                "restoreRate": _number(throttle.restore_rate),
            }
        return {"cost": cost}


class ExecutionBudgetTurn(SchemaExtension):
    """Runs a query or mutation once its requested cost (reckoned by QueryCost, which comes
    first) fits in the process's execution budget, waiting its turn otherwise; it lets go of
    its database connection while it waits. Asynchronous, so a synchronous execution (the
    schema's own introspection) runs without it (`CairnSchema.get_extensions`)."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        ctx = context.context
        budget = getattr(ctx, "budget", None)
        points = getattr(ctx, "requested_cost", None)
        if budget is None or points is None or context.operation_type is OperationType.SUBSCRIPTION:
            yield
            return
        if budget.must_wait(points):
            await ctx.release_reads()
        async with budget.running(points):
            yield
