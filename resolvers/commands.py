"""Write-side resolver functions: each runs inside the caller's transaction and records its
audit events there, so a change and its history commit or roll back together."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from db import artifacts, audit, organizations, registries, runs
from db.pool import Connection
from db.records import ArtifactVersion, Collection, Organization, Project, Registry, Run, User
from resolvers.errors import DomainError, ErrorCode

LATEST = "latest"
CORE_REGISTRIES = (("model", "model"), ("dataset", "dataset"))
_ALIAS = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_RESERVED_VERSION = re.compile(r"^v\d+$")


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    digest: str
    size: int


def manifest_digest(files: Sequence[FileEntry]) -> str:
    """SHA-256 over the sorted manifest: the same files give the same digest in any order."""
    hasher = hashlib.sha256()
    for entry in sorted(files, key=lambda f: f.path):
        hasher.update(f"{entry.path}\t{entry.digest}\t{entry.size}\n".encode())
    return hasher.hexdigest()


def check_alias(alias: str, *, field: tuple[str, ...] = ("aliases",)) -> None:
    if alias == LATEST or _RESERVED_VERSION.match(alias):
        raise DomainError(
            ErrorCode.RESERVED_ALIAS,
            f"alias '{alias}' is reserved: `latest` is kept by the server and v<N> names versions",
            field,
        )
    if not _ALIAS.match(alias):
        raise DomainError(
            ErrorCode.INVALID_NAME,
            f"alias '{alias[:140]}' may only hold letters, digits, '-', '_' and '.', "
            "1 to 128 characters",
            field,
        )


async def create_organization(conn: Connection, name: str, display_name: str) -> Organization:
    """A new organization with its core registries."""
    org = await organizations.insert_organization(conn, name, display_name)
    for registry_name, artifact_type in CORE_REGISTRIES:
        await registries.insert_registry(
            conn,
            organization_id=org.id,
            name=registry_name,
            description=f"The organization's core {registry_name} registry.",
            visibility="ORGANIZATION",
            accepted_types=[artifact_type],
            accepts_all_types=False,
            protected_aliases=[],
            is_core=True,
            created_by=None,
        )
    return org


async def create_registry(
    conn: Connection,
    actor: User,
    organization_id: int,
    *,
    name: str,
    description: str = "",
    visibility: str = "ORGANIZATION",
    accepted_types: Sequence[str] = (),
    protected_aliases: Sequence[str] = (),
) -> Registry:
    registry = await registries.insert_registry(
        conn,
        organization_id=organization_id,
        name=name,
        description=description,
        visibility=visibility,
        accepted_types=accepted_types,
        accepts_all_types=not accepted_types,
        protected_aliases=protected_aliases,
        is_core=False,
        created_by=actor.id,
    )
    if visibility == "RESTRICTED":
        # The creator of a restricted registry administers it; nobody else can see it yet.
        await registries.set_registry_user_role(conn, registry.id, actor.id, "ADMIN")
    await audit.insert_audit_event(
        conn,
        organization_id=organization_id,
        registry_id=registry.id,
        collection_id=None,
        actor_id=actor.id,
        action="CREATE_REGISTRY",
        target_type="Registry",
        target_id=registry.id,
        after={"name": name, "visibility": visibility},
    )
    return registry


def _accepts(registry: Registry, artifact_type: str) -> bool:
    return registry.accepts_all_types or artifact_type in registry.accepted_types


async def create_collection(
    conn: Connection,
    actor: User,
    registry: Registry,
    *,
    name: str,
    artifact_type: str,
    description: str = "",
    tags: Sequence[str] = (),
) -> Collection:
    if not _accepts(registry, artifact_type):
        raise DomainError(
            ErrorCode.TYPE_NOT_ACCEPTED,
            f"registry '{registry.name}' does not accept artifact type '{artifact_type}'",
            ("type",),
        )
    collection = await registries.insert_collection(
        conn,
        organization_id=registry.organization_id,
        registry_id=registry.id,
        project_id=None,
        name=name,
        artifact_type=artifact_type,
        description=description,
    )
    if collection is None:
        raise DomainError(
            ErrorCode.NAME_TAKEN,
            f"registry '{registry.name}' already has a collection named '{name}'",
            ("name",),
        )
    await registries.add_collection_tags(conn, collection.id, tags)
    await audit.insert_audit_event(
        conn,
        organization_id=registry.organization_id,
        registry_id=registry.id,
        collection_id=collection.id,
        actor_id=actor.id,
        action="CREATE_COLLECTION",
        target_type="Collection",
        target_id=collection.id,
        after={"name": name, "type": artifact_type},
    )
    return collection


async def create_project(
    conn: Connection, organization_id: int, name: str, description: str = ""
) -> Project:
    project = await runs.insert_project(conn, organization_id, name, description)
    if project is None:
        raise DomainError(ErrorCode.NAME_TAKEN, f"project '{name}' already exists", ("name",))
    return project


async def create_run(
    conn: Connection,
    actor: User,
    project: Project,
    name: str,
    config: dict[str, Any] | None = None,
) -> Run:
    run = await runs.insert_run(conn, project.id, name, config or {}, actor.id)
    if run is None:
        raise DomainError(
            ErrorCode.NAME_TAKEN, f"project '{project.name}' already has a run '{name}'", ("name",)
        )
    return run


async def finish_run(
    conn: Connection,
    run: Run,
    state: str = "FINISHED",
    summary: dict[str, Any] | None = None,
) -> None:
    await runs.finish_run(conn, run.id, state, summary or {})


async def _set_latest(conn: Connection, version: ArtifactVersion) -> None:
    await artifacts.assign_alias(conn, version.collection_id, LATEST, version.id)


async def log_artifact(
    conn: Connection,
    actor: User,
    project: Project,
    *,
    name: str,
    artifact_type: str,
    files: Sequence[FileEntry],
    run: Run | None = None,
    metadata: dict[str, Any] | None = None,
    description: str = "",
    aliases: Sequence[str] = (),
) -> ArtifactVersion:
    """Logs a version of `name` in the project; the same manifest again returns that version."""
    for alias in aliases:
        check_alias(alias)
    sequence = await registries.sequence_in_project(conn, project.id, name)
    if sequence is None:
        await registries.insert_collection(
            conn,
            organization_id=project.organization_id,
            registry_id=None,
            project_id=project.id,
            name=name,
            artifact_type=artifact_type,
            description="",
        )
        sequence = await registries.sequence_in_project(conn, project.id, name)
        assert sequence is not None
    if sequence.artifact_type != artifact_type:
        raise DomainError(
            ErrorCode.TYPE_MISMATCH,
            f"artifact '{name}' has type '{sequence.artifact_type}', not '{artifact_type}'",
            ("type",),
        )
    await registries.lock_collection(conn, sequence.id)
    digest = manifest_digest(files)
    existing = await artifacts.content_by_digest(conn, sequence.id, digest)
    if existing is not None:
        found = await artifacts.version_of_content(conn, sequence.id, existing)
        assert found is not None
        return found
    content_id = await artifacts.insert_content(
        conn,
        sequence_id=sequence.id,
        digest=digest,
        files=[(f.path, f.digest, f.size) for f in files],
        metadata=metadata or {},
        description=description,
        created_by_run_id=None if run is None else run.id,
    )
    assert content_id is not None
    index = await registries.take_next_index(conn, sequence.id)
    version = await artifacts.insert_version(conn, sequence.id, content_id, index, actor.id)
    await _set_latest(conn, version)
    for alias in aliases:
        await artifacts.assign_alias(conn, sequence.id, alias, version.id)
    return version


async def use_artifact(conn: Connection, run: Run, version: ArtifactVersion) -> None:
    await runs.insert_run_input(conn, run.id, version.content_id, version.id)


async def link_artifact(
    conn: Connection,
    actor: User,
    version: ArtifactVersion,
    registry: Registry,
    collection_name: str,
    aliases: Sequence[str] = (),
) -> ArtifactVersion:
    """Links `version`'s content into a registry collection, creating the collection if needed.
    Content already there returns the existing version (with the aliases added)."""
    for alias in aliases:
        check_alias(alias)
    collection = await registries.collection_in_registry(conn, registry.id, collection_name)
    if collection is None:
        collection = await create_collection(
            conn, actor, registry, name=collection_name, artifact_type=version.artifact_type
        )
    if collection.artifact_type != version.artifact_type:
        raise DomainError(
            ErrorCode.TYPE_MISMATCH,
            f"collection '{collection.name}' holds type '{collection.artifact_type}', "
            f"the version is '{version.artifact_type}'",
            ("versionId",),
        )
    await registries.lock_collection(conn, collection.id)
    linked = await artifacts.version_of_content(conn, collection.id, version.content_id)
    if linked is None:
        index = await registries.take_next_index(conn, collection.id)
        linked = await artifacts.insert_version(
            conn, collection.id, version.content_id, index, actor.id
        )
        await _set_latest(conn, linked)
        await audit.insert_audit_event(
            conn,
            organization_id=registry.organization_id,
            registry_id=registry.id,
            collection_id=collection.id,
            actor_id=actor.id,
            action="LINK_ARTIFACT",
            target_type="ArtifactVersion",
            target_id=linked.id,
            after={"version": f"v{index}", "digest": linked.digest},
        )
    await add_aliases(conn, actor, linked, aliases)
    return linked


async def add_aliases(
    conn: Connection, actor: User, version: ArtifactVersion, aliases: Sequence[str]
) -> None:
    """Gives `version` each alias, moving it from whichever version held it."""
    if not aliases:
        return
    await registries.lock_collection(conn, version.collection_id)
    for alias in aliases:
        check_alias(alias)
        previous, changed = await artifacts.assign_alias(
            conn, version.collection_id, alias, version.id
        )
        if changed and version.registry_id is not None:
            await audit.insert_audit_event(
                conn,
                organization_id=version.organization_id,
                registry_id=version.registry_id,
                collection_id=version.collection_id,
                actor_id=actor.id,
                action="ADD_ARTIFACT_ALIAS" if previous is None else "MOVE_ARTIFACT_ALIAS",
                target_type="ArtifactVersion",
                target_id=version.id,
                before=None if previous is None else {"alias": alias, "versionId": previous},
                after={"alias": alias, "versionId": version.id},
            )


async def add_version_tags(
    conn: Connection, actor: User, version: ArtifactVersion, tags: Sequence[str]
) -> None:
    await artifacts.add_version_tags(conn, version.id, tags)
    if version.registry_id is not None:
        await audit.insert_audit_event(
            conn,
            organization_id=version.organization_id,
            registry_id=version.registry_id,
            collection_id=version.collection_id,
            actor_id=actor.id,
            action="ADD_TAG",
            target_type="ArtifactVersion",
            target_id=version.id,
            after={"tags": list(tags)},
        )
