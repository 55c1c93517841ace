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
    Create one per request; call `clear_all` after a write."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.organization_by_id: DataLoader[int, Organization | None] = _loader(
            executor, organizations.organizations_by_id
        )
        self.organization_by_name: DataLoader[str, Organization | None] = _loader(
            executor, organizations.organizations_by_name
        )
        self.user_by_id: DataLoader[int, User | None] = _loader(executor, accounts.users_by_id)
        self.organization_ids_by_user: DataLoader[int, list[int]] = _loader(
            executor, organizations.organization_ids_by_user
        )
        self.team_by_id: DataLoader[int, Team | None] = _loader(executor, organizations.teams_by_id)
        self.api_key_by_id: DataLoader[int, ApiKey | None] = _loader(
            executor, accounts.api_keys_by_id
        )
        self.registry_by_id: DataLoader[int, Registry | None] = _loader(
            executor, registries.registries_by_id
        )
        self.registry_by_organization_name: DataLoader[tuple[int, str], Registry | None] = _loader(
            executor, registries.registries_by_organization_name
        )
        self.registry_role: DataLoader[tuple[int, int], str | None] = _loader(
            executor, registries.registry_roles
        )
        self.registry_ids_with_role: DataLoader[int, list[int]] = _loader(
            executor, registries.registry_ids_with_role
        )
        self.collection_by_id: DataLoader[int, Collection | None] = _loader(
            executor, collections.collections_by_id
        )
        self.collection_by_registry_name: DataLoader[tuple[int, str], Collection | None] = _loader(
            executor, collections.collections_by_registry_name
        )
        self.sequence_by_project_name: DataLoader[tuple[int, str], Collection | None] = _loader(
            executor, collections.sequences_by_project_name
        )
        self.tags_by_collection: DataLoader[int, list[str]] = _loader(
            executor, collections.tags_by_collection
        )
        self.version_by_id: DataLoader[int, ArtifactVersion | None] = _loader(
            executor, versions.versions_by_id
        )
        self.version_by_collection_index: DataLoader[tuple[int, int], ArtifactVersion | None] = (
            _loader(executor, versions.versions_by_collection_index)
        )
        self.version_by_collection_alias: DataLoader[tuple[int, str], ArtifactVersion | None] = (
            _loader(executor, versions.versions_by_collection_alias)
        )
        self.version_by_collection_content: DataLoader[tuple[int, int], ArtifactVersion | None] = (
            _loader(executor, versions.versions_by_collection_content)
        )
        self.source_version_by_content: DataLoader[int, ArtifactVersion | None] = _loader(
            executor, versions.source_versions_by_content
        )
        self.content_fully_stored: DataLoader[int, bool] = _loader(
            executor, versions.contents_fully_stored
        )
        self.registry_ids_by_content: DataLoader[int, list[int]] = _loader(
            executor, versions.registry_ids_by_content
        )
        self.aliases_by_version: DataLoader[int, list[str]] = _loader(
            executor, versions.aliases_by_version
        )
        self.tags_by_version: DataLoader[int, list[str]] = _loader(
            executor, versions.tags_by_version
        )
        self.aliases_by_collection: DataLoader[int, list[tuple[str, int]]] = _loader(
            executor, versions.aliases_by_collection
        )
        self.alias_periods_by_version: DataLoader[int, list[AliasPeriod]] = _loader(
            executor, history.alias_periods_by_version
        )
        self.alias_holder_as_of: DataLoader[tuple[int, str, datetime], int | None] = _loader(
            executor, history.alias_holders_as_of
        )
        self.automation_by_id: DataLoader[int, Automation | None] = _loader(
            executor, automations.automations_by_id
        )
        self.delivery_by_id: DataLoader[int, Delivery | None] = _loader(
            executor, automations.deliveries_by_id
        )
        self.attempts_by_delivery: DataLoader[int, list[DeliveryAttempt]] = _loader(
            executor, automations.attempts_by_delivery
        )
        self.project_by_id: DataLoader[int, Project | None] = _loader(executor, runs.projects_by_id)
        self.project_by_organization_name: DataLoader[tuple[int, str], Project | None] = _loader(
            executor, runs.projects_by_organization_name
        )
        self.run_by_id: DataLoader[int, Run | None] = _loader(executor, runs.runs_by_id)
        self.run_by_project_name: DataLoader[tuple[int, str], Run | None] = _loader(
            executor, runs.runs_by_project_name
        )
        # Functions of the executor, not methods: a loader that held this object would make a
        # cycle, and every row the request loaded would wait for the cyclic garbage collector.
        self.page: DataLoader[PageKey, Page[Any]] = _loader(executor, _load_pages)
        self.count: DataLoader[CountKey, int] = _loader(executor, _load_counts)

    def clear_all(self) -> None:
        for loader in vars(self).values():
            if isinstance(loader, DataLoader):
                loader.clear_all()
