"""The registry's changes, each on a connection inside the caller's transaction, with its audit
events written there too: a change and its history commit or roll back together.

These functions trust their caller on authorization (the mutations in `resolvers.mutations` and
the demo seeding); they enforce the domain's own rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from db import artifacts, audit, history, organizations, registries, runs
from db.pool import Connection
from db.records import ArtifactVersion, Collection, Organization, Project, Registry, Run, User
from resolvers import events
from resolvers.errors import DomainError, ErrorCode
from resolvers.validation import LATEST

CORE_REGISTRIES = (("model", "model"), ("dataset", "dataset"))


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


async def _audit(
    conn: Connection,
    actor: User,
    action: str,
    *,
    organization_id: int,
    registry_id: int | None,
    collection_id: int | None = None,
    target_type: str,
    target_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await audit.insert_audit_event(
        conn,
        organization_id=organization_id,
        registry_id=registry_id,
        collection_id=collection_id,
        actor_id=actor.id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
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
    """A custom registry; no accepted types means it accepts every type."""
    found = await registries.registries_by_organization_name(conn, [(organization_id, name)])
    if found[0] is not None:
        raise DomainError(
            ErrorCode.NAME_TAKEN, f"a registry named '{found[0].name}' already exists", ("name",)
        )
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
    if registry is None:
        # A concurrent request created it between the check above and the insert.
        raise DomainError(
            ErrorCode.NAME_TAKEN, f"a registry named '{name}' already exists", ("name",)
        )
    # The creator administers the registry: of a restricted one, nobody else can see it yet, and
    # of an organization-wide one, members would otherwise only view what they made.
    await registries.set_registry_user_role(conn, registry.id, actor.id, "ADMIN")
    await _audit(
        conn,
        actor,
        "CREATE_REGISTRY",
        organization_id=organization_id,
        registry_id=registry.id,
        target_type="Registry",
        target_id=registry.id,
        after=_registry_state(registry),
    )
    return registry


def _registry_state(registry: Registry) -> dict[str, Any]:
    return {
        "name": registry.name,
        "description": registry.description,
        "visibility": registry.visibility,
        "acceptsAllTypes": registry.accepts_all_types,
        "acceptedTypes": registry.accepted_types,
        "protectedAliases": registry.protected_aliases,
    }


async def update_registry(
    conn: Connection,
    actor: User,
    registry: Registry,
    *,
    description: str | None = None,
    visibility: str | None = None,
    accept_all_types: bool = False,
    add_accepted_types: Sequence[str] = (),
    protected_aliases: Sequence[str] | None = None,
) -> Registry:
    if registry.is_core and visibility not in (None, "ORGANIZATION"):
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"core registry '{registry.name}' keeps ORGANIZATION visibility",
            ("visibility",),
        )
    updated = await registries.update_registry(
        conn,
        registry.id,
        description=description,
        visibility=visibility,
        accept_all_types=accept_all_types,
        add_accepted_types=add_accepted_types,
        protected_aliases=protected_aliases,
    )
    before, after = _registry_state(registry), _registry_state(updated)
    if before != after:
        await _audit(
            conn,
            actor,
            "UPDATE_REGISTRY",
            organization_id=registry.organization_id,
            registry_id=registry.id,
            target_type="Registry",
            target_id=registry.id,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
        )
    return updated


async def delete_registry(conn: Connection, actor: User, registry: Registry) -> None:
    """Deletes the registry with its collections and links; logged content and runs stay."""
    if registry.is_core:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"core registry '{registry.name}' cannot be deleted",
            ("registryId",),
        )
    if not await registries.delete_registry(conn, registry.id):
        raise DomainError(ErrorCode.NOT_FOUND, "registry not found", ("registryId",))
    await _audit(
        conn,
        actor,
        "DELETE_REGISTRY",
        organization_id=registry.organization_id,
        registry_id=registry.id,
        target_type="Registry",
        target_id=registry.id,
        before=_registry_state(registry),
    )


def accepts(registry: Registry, artifact_type: str) -> bool:
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
    if not accepts(registry, artifact_type):
        raise DomainError(
            ErrorCode.TYPE_NOT_ACCEPTED,
            f"registry '{registry.name}' does not accept artifact type '{artifact_type}' "
            f"(it accepts: {', '.join(registry.accepted_types)})",
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
    await _audit(
        conn,
        actor,
        "CREATE_COLLECTION",
        organization_id=registry.organization_id,
        registry_id=registry.id,
        collection_id=collection.id,
        target_type="Collection",
        target_id=collection.id,
        after={"name": name, "type": artifact_type, "tags": list(tags)},
    )
    await events.emit_for_collection(conn, "CREATE_ARTIFACT", actor, collection)
    return collection


async def update_collection(
    conn: Connection,
    actor: User,
    collection: Collection,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Collection:
    updated = await registries.update_collection(
        conn, collection.id, name=name, description=description
    )
    if updated is None:
        raise DomainError(
            ErrorCode.NAME_TAKEN, f"a collection named '{name}' already exists here", ("name",)
        )
    before = {"name": collection.name, "description": collection.description}
    after = {"name": updated.name, "description": updated.description}
    if before != after and collection.registry_id is not None:
        await _audit(
            conn,
            actor,
            "UPDATE_COLLECTION",
            organization_id=collection.organization_id,
            registry_id=collection.registry_id,
            collection_id=collection.id,
            target_type="Collection",
            target_id=collection.id,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
        )
    return updated


async def delete_collection(conn: Connection, actor: User, collection: Collection) -> None:
    if not await registries.delete_collection(conn, collection.id):
        raise DomainError(ErrorCode.NOT_FOUND, "collection not found", ("collectionId",))
    await _audit(
        conn,
        actor,
        "DELETE_COLLECTION",
        organization_id=collection.organization_id,
        registry_id=collection.registry_id,
        collection_id=collection.id,
        target_type="Collection",
        target_id=collection.id,
        before={"name": collection.name, "type": collection.artifact_type},
    )


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


async def update_run(
    conn: Connection,
    run: Run,
    *,
    state: str | None = None,
    summary: dict[str, Any] | None = None,
) -> Run:
    """Merges `summary` into the run's; a state other than RUNNING finishes the run."""
    if run.state != "RUNNING" and state not in (None, run.state):
        raise DomainError(
            ErrorCode.RUN_FINISHED,
            f"run '{run.name}' has already ended as {run.state}",
            ("state",),
        )
    if state == "RUNNING":
        state = None
    return await runs.update_run(conn, run.id, state, summary or {})


async def finish_run(
    conn: Connection,
    run: Run,
    state: str = "FINISHED",
    summary: dict[str, Any] | None = None,
) -> Run:
    return await update_run(conn, run, state=state, summary=summary)


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
    """Logs a version of `name` in the project. The same manifest again returns the existing
    version, with `aliases` added to it."""
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
        # A concurrent logger may have created it first; either way it exists now.
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
        await _assign_aliases(conn, actor, found, aliases)
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
    await _assign_aliases(conn, actor, version, aliases)
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
    Content already there returns the existing version, with the aliases added."""
    if not accepts(registry, version.artifact_type):
        raise DomainError(
            ErrorCode.TYPE_NOT_ACCEPTED,
            f"registry '{registry.name}' does not accept artifact type '{version.artifact_type}'",
            ("targetPath",),
        )
    collection = await registries.collection_in_registry(conn, registry.id, collection_name)
    if collection is None:
        collection = await registries.insert_collection(
            conn,
            organization_id=registry.organization_id,
            registry_id=registry.id,
            project_id=None,
            name=collection_name,
            artifact_type=version.artifact_type,
            description="",
        )
        if collection is not None:
            await _audit(
                conn,
                actor,
                "CREATE_COLLECTION",
                organization_id=registry.organization_id,
                registry_id=registry.id,
                collection_id=collection.id,
                target_type="Collection",
                target_id=collection.id,
                after={"name": collection.name, "type": collection.artifact_type},
            )
            await events.emit_for_collection(conn, "CREATE_ARTIFACT", actor, collection)
        else:
            # A concurrent link created it first; its transaction has committed by now.
            collection = await registries.collection_in_registry(conn, registry.id, collection_name)
            assert collection is not None
    return await link_into(conn, actor, version, registry, collection, aliases)


async def link_into(
    conn: Connection,
    actor: User,
    version: ArtifactVersion,
    registry: Registry,
    collection: Collection,
    aliases: Sequence[str] = (),
) -> ArtifactVersion:
    if collection.artifact_type != version.artifact_type:
        raise DomainError(
            ErrorCode.TYPE_MISMATCH,
            f"collection '{collection.name}' holds type '{collection.artifact_type}', "
            f"the version is '{version.artifact_type}'",
            ("versionId",),
        )
    if not await registries.lock_collection(conn, collection.id):
        raise DomainError(
            ErrorCode.NOT_FOUND, f"collection '{collection.name}' not found: it was just deleted"
        )
    linked = await artifacts.version_of_content(conn, collection.id, version.content_id)
    if linked is None:
        index = await registries.take_next_index(conn, collection.id)
        linked = await artifacts.insert_version(
            conn, collection.id, version.content_id, index, actor.id
        )
        await _set_latest(conn, linked)
        await _audit(
            conn,
            actor,
            "LINK_ARTIFACT",
            organization_id=registry.organization_id,
            registry_id=registry.id,
            collection_id=collection.id,
            target_type="ArtifactVersion",
            target_id=linked.id,
            after={"version": f"v{index}", "digest": linked.digest},
        )
        await events.emit_for_version(conn, "LINK_ARTIFACT", actor, linked)
    await _assign_aliases(conn, actor, linked, aliases)
    return linked


async def unlink_artifact(conn: Connection, actor: User, version: ArtifactVersion) -> None:
    """Removes a version from its registry collection. Its index is never reused; `latest`
    moves to the newest remaining version."""
    if version.registry_id is None:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            "only versions in registry collections can be unlinked; logged versions stay",
            ("versionId",),
        )
    await _lock_version(conn, version)
    held = await history.close_alias_periods_of_version(conn, version.id)
    await artifacts.delete_version(conn, version.id)
    if LATEST in held:
        newest = await artifacts.newest_version(conn, version.collection_id)
        if newest is not None:
            await _set_latest(conn, newest)
    await _audit(
        conn,
        actor,
        "UNLINK_ARTIFACT",
        organization_id=version.organization_id,
        registry_id=version.registry_id,
        collection_id=version.collection_id,
        target_type="ArtifactVersion",
        target_id=version.id,
        before={
            "version": f"v{version.version_index}",
            "digest": version.digest,
            "aliases": held,
        },
    )
    await events.emit_for_version(conn, "UNLINK_ARTIFACT", actor, version)


async def add_aliases(
    conn: Connection, actor: User, version: ArtifactVersion, aliases: Sequence[str]
) -> None:
    """Gives `version` each alias, moving it from whichever version held it."""
    if not aliases:
        return
    await _lock_version(conn, version)
    await _assign_aliases(conn, actor, version, aliases)


async def _lock_version(conn: Connection, version: ArtifactVersion) -> None:
    """Locks the version's collection, then checks the version is still there: a concurrent
    unlink or delete may have removed it (or its collection) since it was read."""
    await registries.lock_collection(conn, version.collection_id)
    if await artifacts.version_for_write(conn, version.id) is None:
        raise DomainError(
            ErrorCode.NOT_FOUND,
            f"version v{version.version_index} not found: it was just unlinked or deleted",
            ("versionId",),
        )


async def _assign_aliases(
    conn: Connection, actor: User, version: ArtifactVersion, aliases: Sequence[str]
) -> None:
    """`add_aliases` for callers that hold the collection's lock and know the version exists."""
    for alias in aliases:
        previous, changed = await artifacts.assign_alias(
            conn, version.collection_id, alias, version.id
        )
        if changed and version.registry_id is not None:
            await _audit(
                conn,
                actor,
                "ADD_ARTIFACT_ALIAS" if previous is None else "MOVE_ARTIFACT_ALIAS",
                organization_id=version.organization_id,
                registry_id=version.registry_id,
                collection_id=version.collection_id,
                target_type="ArtifactVersion",
                target_id=version.id,
                before=None if previous is None else {"alias": alias, "version": f"v{previous}"},
                after={"alias": alias, "version": f"v{version.version_index}"},
            )
            await events.emit_for_version(conn, "ADD_ARTIFACT_ALIAS", actor, version, alias=alias)


async def remove_aliases(
    conn: Connection, actor: User, version: ArtifactVersion, aliases: Sequence[str]
) -> None:
    await _lock_version(conn, version)
    for alias in aliases:
        removed = await artifacts.remove_alias(conn, version.collection_id, alias, version.id)
        if not removed:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"version v{version.version_index} does not hold alias '{alias}'",
                ("aliases",),
            )
        if version.registry_id is not None:
            await _audit(
                conn,
                actor,
                "REMOVE_ARTIFACT_ALIAS",
                organization_id=version.organization_id,
                registry_id=version.registry_id,
                collection_id=version.collection_id,
                target_type="ArtifactVersion",
                target_id=version.id,
                before={"alias": alias, "version": f"v{version.version_index}"},
            )
            await events.emit_for_version(
                conn, "REMOVE_ARTIFACT_ALIAS", actor, version, alias=alias
            )


async def change_version_tags(
    conn: Connection, actor: User, version: ArtifactVersion, tags: Sequence[str], *, add: bool
) -> None:
    await _lock_version(conn, version)
    if add:
        changed = await artifacts.add_version_tags(conn, version.id, tags)
    else:
        changed = await artifacts.remove_version_tags(conn, version.id, tags)
    if version.registry_id is None:
        return
    for tag in await _record_tag_change(
        conn, actor, version, "ArtifactVersion", version.id, tags, changed, add=add
    ):
        await events.emit_for_version(conn, "ADD_TAG", actor, version, tag=tag)


async def change_collection_tags(
    conn: Connection, actor: User, collection: Collection, tags: Sequence[str], *, add: bool
) -> None:
    if add:
        changed = await registries.add_collection_tags(conn, collection.id, tags)
    else:
        changed = await registries.remove_collection_tags(conn, collection.id, tags)
    if collection.registry_id is None:
        return
    scope = _CollectionScope(collection.organization_id, collection.registry_id, collection.id)
    for tag in await _record_tag_change(
        conn, actor, scope, "Collection", collection.id, tags, changed, add=add
    ):
        await events.emit_for_collection(conn, "ADD_TAG", actor, collection, tag=tag)


@dataclass(frozen=True, slots=True)
class _CollectionScope:
    organization_id: int
    registry_id: int | None
    collection_id: int


async def _record_tag_change(
    conn: Connection,
    actor: User,
    scope: ArtifactVersion | _CollectionScope,
    target_type: str,
    target_id: int,
    asked: Sequence[str],
    changed: Sequence[str],
    *,
    add: bool,
) -> list[str]:
    """Audits the tags that really changed (in the order asked) and returns the added ones, for
    webhooks. Tags already there, or already gone, change nothing: no history, no webhooks."""
    tags = [t for t in asked if t in changed]
    if tags:
        await _audit(
            conn,
            actor,
            "ADD_TAG" if add else "REMOVE_TAG",
            organization_id=scope.organization_id,
            registry_id=scope.registry_id,
            collection_id=scope.collection_id,
            target_type=target_type,
            target_id=target_id,
            after={"tags": tags},
        )
    return tags if add else []


async def update_version_description(
    conn: Connection, actor: User, version: ArtifactVersion, description: str
) -> None:
    await artifacts.update_content_description(conn, version.content_id, description)
    if version.registry_id is not None:
        await _audit(
            conn,
            actor,
            "UPDATE_ARTIFACT_VERSION",
            organization_id=version.organization_id,
            registry_id=version.registry_id,
            collection_id=version.collection_id,
            target_type="ArtifactVersion",
            target_id=version.id,
            before={"description": version.description},
            after={"description": description},
        )
