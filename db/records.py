"""Plain rows as the persistence layer hands them up: one frozen dataclass per table shape, and
the batched lookups that build them, aligned with the keys asked for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from db.pool import Executor

T = TypeVar("T")


def prefixed(columns: str, prefix: str) -> str:
    """A column list such as `r.id, r.visibility::text AS visibility, ARRAY(…) AS tags` with
    each column named `<prefix><name>`, so that the rows of several tables share one result."""
    items: list[str] = []
    depth = start = 0
    for at, char in enumerate(columns):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(columns[start:at])
            start = at + 1
    items.append(columns[start:])
    renamed = []
    for item in (i.strip() for i in items):
        named = re.fullmatch(r"(.*)\s+AS\s+(\w+)", item, re.DOTALL)
        expression, name = named.groups() if named else (item, item.rsplit(".", 1)[-1])
        renamed.append(f"{expression} AS {prefix}{name}")
    return ", ".join(renamed)


def from_prefixed(cls: type[T], row: asyncpg.Record, prefix: str) -> T | None:
    """The record of the columns `prefixed` named, or None where an outer join found no row."""
    if row[prefix + "id"] is None:
        return None
    return cls(**{f.name: row[prefix + f.name] for f in fields(cls)})  # type: ignore[arg-type]


# Each record class's field names in order, read once: `fields()` builds a tuple on every call.
_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def from_record(cls: type[T], row: asyncpg.Record) -> T:
    """Builds a dataclass from the row's columns of the same names (extra columns are ignored)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    return cls(*[row[name] for name in names])


async def records_by_id(
    conn: Executor, sql: str, ids: Sequence[int], cls: type[T]
) -> list[T | None]:
    """One record per id, None where there is none: `sql` takes the ids as `$1::bigint[]` and
    returns an `id` column."""
    rows = await conn.fetch(sql, list(ids))
    found = {row["id"]: from_record(cls, row) for row in rows}
    return [found.get(i) for i in ids]


async def records_by_pair(
    conn: Executor,
    sql: str,
    keys: Sequence[tuple[Any, Any]],
    key_columns: tuple[str, str],
    cls: type[T],
) -> list[T | None]:
    """One record per key pair, None where there is none: `sql` takes the pairs as two arrays
    (`$1`, `$2`) and returns them in `key_columns`."""
    rows = await conn.fetch(sql, [k[0] for k in keys], [k[1] for k in keys])
    first, second = key_columns
    found = {(row[first], row[second]): from_record(cls, row) for row in rows}
    return [found.get(k) for k in keys]


@dataclass(frozen=True, slots=True)
class Organization:
    id: int
    name: str
    display_name: str
    created_at: datetime

    @property
    def organization_id(self) -> int:
        return self.id


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    display_name: str
    kind: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrganizationMember:
    organization_id: int
    user_id: int
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Invitation:
    id: int
    organization_id: int
    user_name: str
    role: str
    invited_by: int | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    organization_id: int
    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    organization_id: int
    project_id: int
    name: str
    state: str
    config: dict[str, Any]
    summary: dict[str, Any]
    user_id: int | None
    created_at: datetime
    finished_at: datetime | None
    # What the wandb SDK records besides: the name to show, notes, tags, group, job type, the
    # exit code it finished with, and when it was last heard from.
    display_name: str
    notes: str
    tags: list[str]
    group_name: str | None
    job_type: str | None
    exit_code: int | None
    heartbeat_at: datetime | None


@dataclass(frozen=True, slots=True)
class ArtifactUpload:
    """An artifact the wandb SDK is logging: created, its files and manifest on their way in,
    not yet a version. Its id becomes the version's."""

    id: int
    organization_id: int
    project_id: int
    sequence_id: int
    run_id: int | None
    user_id: int | None
    wandb_digest: str
    description: str
    metadata: dict[str, Any]
    aliases: list[str]
    ttl_seconds: int | None
    client_id: str | None
    manifest_sha256: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One `run.log(...)` of a run: its line number and the values logged."""

    run_id: int
    line: int
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RunFile:
    run_id: int
    name: str
    sha256: str
    size: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Registry:
    id: int
    organization_id: int
    name: str
    description: str
    visibility: str
    accepts_all_types: bool
    is_core: bool
    accepted_types: list[str]
    protected_aliases: list[str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Collection:
    """A registry collection (registry_id set) or a project's artifact sequence (project_id set)."""

    id: int
    organization_id: int
    registry_id: int | None
    project_id: int | None
    name: str
    artifact_type: str
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ArtifactVersion:
    """A version in a collection, with the content it points at."""

    id: int
    organization_id: int
    collection_id: int
    registry_id: int | None
    content_id: int
    version_index: int
    linked_by: int | None
    linked_at: datetime
    sequence_id: int
    artifact_type: str
    digest: str
    size: int
    metadata: dict[str, Any]
    description: str
    created_by_run_id: int | None
    created_at: datetime
    # The content's time to live, when it ends, and when its files' bytes were let go for it.
    ttl_seconds: int | None
    expires_at: datetime | None
    files_deleted_at: datetime | None
    # The digest the wandb SDK computed for content it logged; None for content logged otherwise.
    wandb_digest: str | None


@dataclass(frozen=True, slots=True)
class ArtifactFile:
    content_id: int
    path: str
    digest: str
    size: int
    # The stored bytes' SHA-256 and MD5; None for files logged before Cairn stored bytes.
    sha256: str | None
    md5: str | None
    # A reference's URI: a file recorded where it lives, with no bytes here.
    ref: str | None


@dataclass(frozen=True, slots=True)
class Team:
    id: int
    organization_id: int
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class RegistryMember:
    """A user's or a team's direct role in a registry (exactly one of user_id, team_id)."""

    registry_id: int
    user_id: int | None
    team_id: int | None
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    organization_id: int
    registry_id: int | None
    collection_id: int | None
    actor_id: int | None
    action: str
    target_type: str
    target_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AliasPeriod:
    alias: str
    version_id: int
    version_index: int
    assigned_at: datetime
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Automation:
    id: int
    organization_id: int
    registry_id: int
    collection_id: int | None
    name: str
    description: str
    enabled: bool
    events: list[str]
    filter_regex: str | None
    webhook_url: str
    headers: bytes | None
    secret: bytes
    payload_template: str
    created_by: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    automation_id: int
    event_type: str
    body: str
    status: str
    attempt_count: int
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    id: int
    delivery_id: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None
