"""Per-request DataLoaders: one per (thing, key), each batch one statement, results aligned."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from db import (
    accounts,
    automations,
    collections,
    history,
    organizations,
    registries,
    runs,
    versions,
)
from db.pagination import ListSpec, Page, PageRequest, fetch_counts, fetch_pages
from db.pool import Executor
from db.records import (
    AliasPeriod,
    ApiKey,
    ArtifactVersion,
    Automation,
    Collection,
    Delivery,
    DeliveryAttempt,
    Organization,
    Project,
    Registry,
    Run,
    Team,
    User,
)
from db.search import Search

K = TypeVar("K")
V = TypeVar("V")

# (list, parent id, page, filter value or None)
PageKey = tuple[ListSpec[Any], int, PageRequest, Any, Search | None]
CountKey = tuple[ListSpec[Any], int, Any, Search | None]


class DataLoader(Generic[K, V]):
    """Loads keys in batches: every key asked for before the event loop's next turn goes to one
    call of `fetch`, which returns the values in the keys' order; each key's future is kept for
    the rest of the request.

    A request of 2,000 rows loads thousands of keys, so a key costs one future and one list
    entry, and nothing else: no done-callback on each future (a turn of the event loop per key
    when the batch completes), and `load_many` waits on the batch, not on each key."""

    __slots__ = ("_batch", "_dispatching", "_fetch", "_futures", "_loop")

    def __init__(self, fetch: Callable[[Sequence[K]], Awaitable[Sequence[V]]]) -> None:
        self._fetch = fetch
        self._futures: dict[K, asyncio.Future[V]] = {}
        self._batch: list[tuple[K, asyncio.Future[V]]] | None = None
        self._dispatching: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def load(self, key: K) -> asyncio.Future[V]:
        future = self._futures.get(key)
        if future is not None and not future.cancelled():
            return future
        loop = self._loop
        if loop is None:
            # Once per loader: asking for the running loop is a system call (getpid).
            loop = self._loop = asyncio.get_running_loop()
        future = self._futures[key] = loop.create_future()
        if self._batch is None:
            self._batch = []
            # The batch closes two turns later, when the task starts: every resolver this turn
            # wakes, and every one those wake, adds its keys first.
            loop.call_soon(self._start_dispatch, loop)
        self._batch.append((key, future))
        return future

    async def load_many(self, keys: Iterable[K]) -> list[V]:
        futures = [self.load(key) for key in keys]
        # Keys asked for together complete together: after the first, the rest are done.
        return [await future for future in futures]

    def loaded(self, key: K) -> V | Awaitable[V]:
        """`key`'s value at once when the request has already loaded it, else the future of
        its load: a field that finds its value loaded (by a list that loaded it for every row)
        then resolves without a coroutine, a task or an event-loop turn."""
        future = self._futures.get(key)
        if (
            future is not None
            and future.done()
            and not future.cancelled()
            and future.exception() is None
        ):
            return future.result()
        return self.load(key)

    def prime(self, key: K, value: V) -> None:
        """Answers `key` with `value` unless it was already asked for."""
        if key not in self._futures:
            future = self._futures[key] = asyncio.Future()
            future.set_result(value)

    def clear_all(self) -> None:
        self._futures.clear()

    def _start_dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        # Held until it ends: the loop keeps only a weak reference to a task.
        task = loop.create_task(self._dispatch())
        self._dispatching.add(task)
        task.add_done_callback(self._dispatching.discard)

    async def _dispatch(self) -> None:
        batch, self._batch = self._batch or [], None
        if all(future.done() for _, future in batch):
            return  # every caller went away (its request was cancelled)
        try:
            values = await self._fetch([key for key, _ in batch])
            if len(values) != len(batch):
                raise RuntimeError(f"a loader returned {len(values)} values for {len(batch)} keys")
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
                    # Marked as seen: the first caller to fail reports it for the request, and
                    # a future nobody awaits after that must not log it once per key.
                    future.exception()
            return
        for (_, future), value in zip(batch, values, strict=True):
            if not future.done():
                future.set_result(value)


class Lazy(Generic[K, V]):
    """A `Loaders` attribute: the loader of `fetch` on the request's executor, made on first
    use and kept on the instance (this descriptor has no `__set__`, so the instance's own
    attribute answers from then on)."""

    def __init__(self, fetch: Callable[[Executor, Sequence[K]], Awaitable[list[V]]]) -> None:
        self.fetch = fetch
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, loaders: Loaders, owner: type) -> DataLoader[K, V]:
        loader = _loader(loaders.executor, self.fetch)
        loaders.__dict__[self.name] = loader
        return loader


def _loader(
    executor: Executor, fetch: Callable[[Executor, Sequence[K]], Awaitable[list[V]]]
) -> DataLoader[K, V]:
    async def load(keys: Sequence[K]) -> list[V]:
        return await fetch(executor, keys)

    return DataLoader(load)


async def _load_pages(executor: Executor, keys: Sequence[PageKey]) -> list[Page[Any]]:
    # Siblings in one query share their page arguments, so this is one statement per level.
    groups: dict[tuple[ListSpec[Any], PageRequest, Any, Search | None], list[int]] = {}
    for spec, parent_id, request, filter_value, search in keys:
        groups.setdefault((spec, request, filter_value, search), []).append(parent_id)
    results: dict[PageKey, Page[Any]] = {}
    for (spec, request, filter_value, search), parent_ids in groups.items():
        unique_ids = list(dict.fromkeys(parent_ids))
        pages = await fetch_pages(executor, spec, unique_ids, request, filter_value, search)
        for parent_id, page in zip(unique_ids, pages, strict=True):
            results[(spec, parent_id, request, filter_value, search)] = page
    return [results[key] for key in keys]


async def _load_counts(executor: Executor, keys: Sequence[CountKey]) -> list[int]:
    groups: dict[tuple[ListSpec[Any], Any, Search | None], list[int]] = {}
    for spec, parent_id, filter_value, search in keys:
        groups.setdefault((spec, filter_value, search), []).append(parent_id)
    results: dict[CountKey, int] = {}
    for (spec, filter_value, search), parent_ids in groups.items():
        unique_ids = list(dict.fromkeys(parent_ids))
        counts = await fetch_counts(executor, spec, unique_ids, filter_value, search)
        for parent_id, count in zip(unique_ids, counts, strict=True):
            results[(spec, parent_id, filter_value, search)] = count
    return [results[key] for key in keys]


class Loaders:
    """A request's loaders, reading through `executor` (the request's connection, or a pool).
    Create one per request; call `clear_all` after a write. Each loader is made when first
    used: a lookup by path uses a few of them, and the rest would be made, and freed, for
    nothing on every request."""

    # The page and count loaders are functions of the executor, not methods: a loader that
    # held this object would make a cycle, and every row the request loaded would wait for the
    # cyclic garbage collector.
    organization_by_id: Lazy[int, Organization | None] = Lazy(organizations.organizations_by_id)
    organization_by_name: Lazy[str, Organization | None] = Lazy(organizations.organizations_by_name)
    user_by_id: Lazy[int, User | None] = Lazy(accounts.users_by_id)
    organization_ids_by_user: Lazy[int, list[int]] = Lazy(organizations.organization_ids_by_user)
    team_by_id: Lazy[int, Team | None] = Lazy(organizations.teams_by_id)
    api_key_by_id: Lazy[int, ApiKey | None] = Lazy(accounts.api_keys_by_id)
    registry_by_id: Lazy[int, Registry | None] = Lazy(registries.registries_by_id)
    registry_by_organization_name: Lazy[tuple[int, str], Registry | None] = Lazy(
        registries.registries_by_organization_name
    )
    registry_role: Lazy[tuple[int, int], str | None] = Lazy(registries.registry_roles)
    registry_ids_with_role: Lazy[int, list[int]] = Lazy(registries.registry_ids_with_role)
    collection_by_id: Lazy[int, Collection | None] = Lazy(collections.collections_by_id)
    collection_by_registry_name: Lazy[tuple[int, str], Collection | None] = Lazy(
        collections.collections_by_registry_name
    )
    sequence_by_project_name: Lazy[tuple[int, str], Collection | None] = Lazy(
        collections.sequences_by_project_name
    )
    tags_by_collection: Lazy[int, list[str]] = Lazy(collections.tags_by_collection)
    version_by_id: Lazy[int, ArtifactVersion | None] = Lazy(versions.versions_by_id)
    version_by_collection_index: Lazy[tuple[int, int], ArtifactVersion | None] = Lazy(
        versions.versions_by_collection_index
    )
    version_by_collection_alias: Lazy[tuple[int, str], ArtifactVersion | None] = Lazy(
        versions.versions_by_collection_alias
    )
    version_by_collection_content: Lazy[tuple[int, int], ArtifactVersion | None] = Lazy(
        versions.versions_by_collection_content
    )
    source_version_by_content: Lazy[int, ArtifactVersion | None] = Lazy(
        versions.source_versions_by_content
    )
    content_fully_stored: Lazy[int, bool] = Lazy(versions.contents_fully_stored)
    registry_ids_by_content: Lazy[int, list[int]] = Lazy(versions.registry_ids_by_content)
    aliases_by_version: Lazy[int, list[str]] = Lazy(versions.aliases_by_version)
    tags_by_version: Lazy[int, list[str]] = Lazy(versions.tags_by_version)
    aliases_by_collection: Lazy[int, list[tuple[str, int]]] = Lazy(versions.aliases_by_collection)
    alias_periods_by_version: Lazy[int, list[AliasPeriod]] = Lazy(history.alias_periods_by_version)
    alias_holder_as_of: Lazy[tuple[int, str, datetime], int | None] = Lazy(
        history.alias_holders_as_of
    )
    automation_by_id: Lazy[int, Automation | None] = Lazy(automations.automations_by_id)
    delivery_by_id: Lazy[int, Delivery | None] = Lazy(automations.deliveries_by_id)
    attempts_by_delivery: Lazy[int, list[DeliveryAttempt]] = Lazy(automations.attempts_by_delivery)
    project_by_id: Lazy[int, Project | None] = Lazy(runs.projects_by_id)
    project_by_organization_name: Lazy[tuple[int, str], Project | None] = Lazy(
        runs.projects_by_organization_name
    )
    run_by_id: Lazy[int, Run | None] = Lazy(runs.runs_by_id)
    run_by_project_name: Lazy[tuple[int, str], Run | None] = Lazy(runs.runs_by_project_name)
    page: Lazy[PageKey, Page[Any]] = Lazy(_load_pages)
    count: Lazy[CountKey, int] = Lazy(_load_counts)

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def clear_all(self) -> None:
        for loader in vars(self).values():
            if isinstance(loader, DataLoader):
                loader.clear_all()
