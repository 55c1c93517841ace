"""The request's DataLoader: keys asked for in the same turns load in one call, each key once,
failures reach every caller of their batch, and a loaded key is answered at once. A page of
versions loads what its selected fields read, so that those fields resolve without waiting."""

from __future__ import annotations

import asyncio
import gc
import inspect
import time
from collections.abc import Sequence
from typing import Any, cast

import pytest

from db import records
from db.loaders import DataLoader, Loaders
from db.pool import Executor
from tests.support.graphql import GraphQLClient
from tests.support.statements import StatementCounter, count_request


class Recorded:
    """A fetch that records the keys of each call and answers each key doubled."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.fail_on = fail_on

    async def __call__(self, keys: Sequence[int]) -> list[int]:
        self.calls.append(list(keys))
        await asyncio.sleep(0)
        if self.fail_on in keys:
            raise LookupError(f"no {self.fail_on}")
        return [k * 2 for k in keys]


async def test_keys_asked_for_together_load_in_one_call_each_key_once() -> None:
    fetch = Recorded()
    loader = DataLoader(fetch)

    async def resolver(key: int) -> int:
        # A task that starts on the loop's next turn still adds its key to the batch.
        return await loader.load(key)

    values = await asyncio.gather(loader.load(1), loader.load(2), loader.load(1), resolver(3))
    assert values == [2, 4, 2, 6]
    assert fetch.calls == [[1, 2, 3]]
    # Loaded keys are not fetched again; new ones make a new batch.
    assert await loader.load_many([3, 4, 1]) == [6, 8, 2]
    assert fetch.calls == [[1, 2, 3], [4]]


async def test_a_failed_batch_fails_each_of_its_callers_and_is_tried_again_after_clear_all() -> (
    None
):
    fetch = Recorded(fail_on=2)
    loader = DataLoader(fetch)
    results = await asyncio.gather(loader.load(1), loader.load(2), return_exceptions=True)
    assert [type(r) for r in results] == [LookupError, LookupError]
    assert str(results[0]) == "no 2"
    fetch.fail_on = None
    loader.clear_all()
    assert await loader.load(1) == 2
    assert fetch.calls == [[1, 2], [1]]


async def test_a_failed_batch_is_not_logged_once_per_key_nobody_awaited() -> None:
    """A request stops at the first failure; the futures of the other keys of the batch, never
    awaited, do not each log the error when they are collected."""
    reported: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: reported.append(context))
    try:
        loader = DataLoader(Recorded(fail_on=1))
        failed = False
        try:
            await loader.load_many(range(100))
        except LookupError:  # not pytest.raises, which would keep the futures alive
            failed = True
        loader.clear_all()
        # Three turns of the loop: the batch's task ends, and its done-callback lets go of it.
        for _ in range(3):
            await asyncio.sleep(0)
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert failed
    assert reported == []


async def test_a_fetch_that_answers_the_wrong_number_of_values_is_a_clear_error() -> None:
    async def short(keys: Sequence[int]) -> list[int]:
        return [0]

    loader = DataLoader(short)
    with pytest.raises(RuntimeError, match="returned 1 values for 2 keys"):
        await asyncio.gather(loader.load(1), loader.load(2))


async def test_loaded_answers_at_once_once_a_key_is_loaded() -> None:
    fetch = Recorded()
    loader = DataLoader(fetch)
    pending = loader.loaded(5)
    assert inspect.isawaitable(pending)
    assert await pending == 10
    assert loader.loaded(5) == 10
    loader.prime(6, 99)
    loader.prime(5, 0)  # already loaded: priming does not replace it
    assert (loader.loaded(6), loader.loaded(5)) == (99, 10)
    assert fetch.calls == [[5]]


async def test_a_batch_whose_callers_all_went_away_is_not_fetched() -> None:
    fetch = Recorded()
    loader = DataLoader(fetch)
    future = loader.load(1)
    future.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert fetch.calls == []
    # A cancelled key is asked for again, not answered with the cancelled future.
    assert await loader.load(1) == 2
    assert fetch.calls == [[1]]


TREE = """{ registry(organization: "acme", name: "model") { collections(first: 5) {
  nodes { name tags versions(first: 3) { edges { node { ...V } } } } } } }
fragment V on ArtifactVersion { id version aliases tags createdBy { name } linkedBy { name } }"""

UNSELECTED = """{ registry(organization: "acme", name: "model") { collections(first: 5) {
  nodes { name versions(first: 3) { nodes { version } } } } } }"""

ONE = """query($id: ID!) { node(id: $id) { ... on ArtifactVersion { ...V } } }
fragment V on ArtifactVersion { id version aliases tags createdBy { name } linkedBy { name } }"""

# What each preloaded field reads.
READS = {
    "aliases": "FROM aliases WHERE version_id",
    "tags": "FROM version_tags WHERE version_id",
    "createdBy": "FROM runs rn JOIN projects",
    "linkedBy": "FROM users u WHERE u.id",
}


async def test_a_page_loads_what_its_selected_fields_read_and_nothing_else(
    ada: GraphQLClient, statement_counter: StatementCounter
) -> None:
    """The fields a page of versions preloads (here through a fragment under `edges { node }`)
    answer what each version answers alone, one batch each for the whole level; a page that
    selects none of them reads none of it."""
    _, data = await count_request(ada, statement_counter, TREE, {})
    tree_statements = [" ".join(s.split()) for s in statement_counter.statements]
    await count_request(ada, statement_counter, UNSELECTED, {})
    unselected = [" ".join(s.split()) for s in statement_counter.statements]

    collections = data["registry"]["collections"]["nodes"]
    versions = [e["node"] for c in collections for e in c["versions"]["edges"]]
    assert len(collections) > 1
    assert len(versions) > 3
    assert any(v["aliases"] for v in versions)
    assert any(v["tags"] for v in versions)
    assert all(v["linkedBy"] is not None for v in versions)
    assert any(v["createdBy"] is not None for v in versions)
    for version in versions:
        assert await ada.data(ONE, {"id": version["id"]}) == {"node": version}
    for field, reads in READS.items():
        assert sum(reads in s for s in tree_statements) == 1, field
        assert not any(reads in s for s in unselected), field


PAGE_OF = """query($n: Int!) { registry(organization: "acme", name: "model") {
  collections(first: 5) { nodes { name tags versions(first: $n) {
    nodes { version aliases tags createdBy { name } linkedBy { name } } } } } } }"""


async def test_preloaded_fields_start_no_task_per_version(ada: GraphQLClient) -> None:
    """With its fields preloaded, a version resolves at once: a page of 3 versions per
    collection starts no more asyncio tasks than a page of 1 (a field that waited would start
    one per version)."""
    loop = asyncio.get_running_loop()
    started: list[int] = []

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        started.append(1)
        return asyncio.Task(coro, loop=loop, **kwargs)

    tasks = {}
    versions = {}
    await ada.data(PAGE_OF, {"n": 3})  # warm: a key's use is recorded once a minute
    loop.set_task_factory(counting)
    try:
        for n in (1, 3):
            started.clear()
            data = await ada.data(PAGE_OF, {"n": n})
            tasks[n] = len(started)
            versions[n] = sum(
                len(c["versions"]["nodes"]) for c in data["registry"]["collections"]["nodes"]
            )
    finally:
        loop.set_task_factory(None)
    assert versions[3] > versions[1] + 2
    assert tasks[3] == tasks[1]


async def test_a_request_lets_go_of_what_it_loaded_without_the_cycle_collector(
    ada: GraphQLClient,
) -> None:
    """GraphQL execution keeps its context in a reference cycle; the rows a request loaded must
    not wait in it for the cyclic garbage collector, which `cairn serve` runs rarely."""
    await ada.data(PAGE_OF, {"n": 3})
    gc.collect()
    gc.disable()
    try:
        data = await ada.data(PAGE_OF, {"n": 3})
        alive = [o for o in gc.get_objects() if isinstance(o, records.ArtifactVersion)]
    finally:
        gc.enable()
    assert data["registry"]["collections"]["nodes"]
    assert alive == []


def test_a_requests_loaders_are_made_when_first_used_and_kept() -> None:
    loaders = Loaders(cast(Executor, object()))
    assert [name for name, value in vars(loaders).items() if isinstance(value, DataLoader)] == []
    first = loaders.user_by_id
    assert loaders.user_by_id is first
    assert loaders.run_by_id is not first
    made = [name for name, value in vars(loaders).items() if isinstance(value, DataLoader)]
    assert made == ["user_by_id", "run_by_id"]
    # Another request's loaders are its own.
    assert Loaders(cast(Executor, object())).user_by_id is not first


def fragment_chain(levels: int) -> str:
    """A page whose node fragments each spread the next twice: 2**levels spreads in all."""
    fragments = "\n".join(
        f"fragment F{i} on ArtifactVersion {{ version ...F{i + 1} ...F{i + 1} }}"
        for i in range(levels)
    )
    return (
        '{ registry(organization: "acme", name: "model") { collections(first: 2) { nodes {'
        " versions(first: 2) { nodes { ...F0 } } } } } }\n"
        f"{fragments}\nfragment F{levels} on ArtifactVersion {{ aliases }}"
    )


async def test_fragments_spreading_each_other_are_walked_once_each(ada: GraphQLClient) -> None:
    """What a page preloads is read through each fragment once, as execution reads them. Walked
    spread by spread, 2**22 of them took about 14 s; once each, a fraction of a second."""
    started = time.perf_counter()
    data = await ada.data(fragment_chain(22))
    assert time.perf_counter() - started < 3
    versions = [v for c in data["registry"]["collections"]["nodes"] for v in c["versions"]["nodes"]]
    assert versions
    assert all(isinstance(v["aliases"], list) for v in versions)
