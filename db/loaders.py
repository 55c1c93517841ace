"""Per-request DataLoaders: one per (thing, key), each batch one statement, results aligned."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

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


def _loader(
    executor: Executor, fetch: Callable[[Executor, Sequence[K]], Awaitable[list[V]]]
) -> DataLoader[K, V]:
    async def load(keys: Sequence[K]) -> list[V]:
        return await fetch(executor, keys)

    return DataLoader(load_fn=load)


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
        self.page: DataLoader[PageKey, Page[Any]] = DataLoader(load_fn=self._load_pages)
        self.count: DataLoader[CountKey, int] = DataLoader(load_fn=self._load_counts)

    async def _load_pages(self, keys: Sequence[PageKey]) -> list[Page[Any]]:
        # Siblings in one query share their page arguments, so this is one statement per level.
        groups: dict[tuple[ListSpec[Any], PageRequest, Any, Search | None], list[int]] = {}
        for spec, parent_id, request, filter_value, search in keys:
            groups.setdefault((spec, request, filter_value, search), []).append(parent_id)
        results: dict[PageKey, Page[Any]] = {}
        for (spec, request, filter_value, search), parent_ids in groups.items():
            unique_ids = list(dict.fromkeys(parent_ids))
            pages = await fetch_pages(
                self.executor, spec, unique_ids, request, filter_value, search
            )
            for parent_id, page in zip(unique_ids, pages, strict=True):
                results[(spec, parent_id, request, filter_value, search)] = page
        return [results[key] for key in keys]

    async def _load_counts(self, keys: Sequence[CountKey]) -> list[int]:
        groups: dict[tuple[ListSpec[Any], Any, Search | None], list[int]] = {}
        for spec, parent_id, filter_value, search in keys:
            groups.setdefault((spec, filter_value, search), []).append(parent_id)
        results: dict[CountKey, int] = {}
        for (spec, filter_value, search), parent_ids in groups.items():
            unique_ids = list(dict.fromkeys(parent_ids))
            counts = await fetch_counts(self.executor, spec, unique_ids, filter_value, search)
            for parent_id, count in zip(unique_ids, counts, strict=True):
                results[(spec, parent_id, filter_value, search)] = count
        return [results[key] for key in keys]

    def clear_all(self) -> None:
        for loader in vars(self).values():
            if isinstance(loader, DataLoader):
                loader.clear_all()
