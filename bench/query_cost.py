"""How long reckoning an operation's cost takes: the requested cost (from the document and its
variables) and the actual cost (a walk of the answer), for the tree scenario's query and an
answer of its full size (10 registries x 20 collections x 10 versions = 2,000 versions).

    python -m bench.query_cost [--repeat 200]

No database and no server: it measures schema/cost.py alone, in this process.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from graphql import parse

from schema.cost import ActualCount, CostEstimate, Selections, chosen_operation
from schema.schema import schema

TREE = """query Tree($org: String!) { organization(name: $org) {
  registries(first: 10) { nodes { name
    collections(first: 20) { nodes { name
      versions(first: 10) { nodes { version aliases tags createdBy { name } } } } } } } } }"""


def tree_answer() -> dict[str, Any]:
    version = {"version": "v1", "aliases": ["latest"], "tags": ["t"], "createdBy": {"name": "u"}}
    collection = {"name": "c", "versions": {"nodes": [dict(version) for _ in range(10)]}}
    registry = {"name": "r", "collections": {"nodes": [dict(collection) for _ in range(20)]}}
    return {"organization": {"registries": {"nodes": [dict(registry) for _ in range(10)]}}}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.query_cost", description=__doc__)
    parser.add_argument("--repeat", type=int, default=200, help="runs of each (default: 200)")
    args = parser.parse_args()
    document = parse(TREE)
    operation = chosen_operation(document, None)
    assert operation is not None
    answer = tree_answer()
    started = time.perf_counter()
    for _ in range(args.repeat):
        requested = CostEstimate(Selections(schema._schema, document), {"org": "acme"})
        requested_cost = requested.operation(operation)
    estimated = time.perf_counter()
    for _ in range(args.repeat):
        actual_cost = ActualCount(Selections(schema._schema, document)).operation(operation, answer)
    walked = time.perf_counter()
    per_request = 1000 / args.repeat
    print(f"requested cost {requested_cost}: {(estimated - started) * per_request:.3f} ms")
    print(f"actual cost {actual_cost}: {(walked - estimated) * per_request:.3f} ms")


if __name__ == "__main__":
    main()
