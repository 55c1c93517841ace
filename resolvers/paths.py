"""Artifact paths: `[org/]wandb-registry-<registry>/<collection>[:<alias>|:v<N>]` for registry
versions and `org/<project>/<artifact>[:<alias>|:v<N>]` for logged ones. No selector means
`latest`. Every malformed path is refused with a message that names the part at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass

from db import paths
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode
from resolvers.validation import folded, storable

REGISTRY_PREFIX = "wandb-registry-"
MAX_VERSION_INDEX = 2**31 - 1
MAX_PATH_LENGTH = 1024
_ALIAS = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_VERSION = re.compile(r"^v(\d+)$")
FORMAT = "[org/]wandb-registry-<registry>/<collection>[:alias|:vN] or org/<project>/<artifact>[:…]"


@dataclass(frozen=True, slots=True)
class ArtifactPath:
    organization: str | None  # None: the caller's only organization
    registry: str | None  # set for registry paths
    project: str | None  # set for artifact sequence paths
    collection: str  # the collection, or the artifact (sequence) name
    alias: str | None  # exactly one of alias and index is set
    index: int | None


def invalid_path(message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_PATH, message, ("path",))


def parse_selector(selector: str) -> tuple[str | None, int | None]:
    """`v3` → index 3; anything else must be a valid alias (both in any case)."""
    selector = folded(selector)
    if selector == "":
        raise invalid_path("the selector after ':' is empty: give an alias or a version like v3")
    version = _VERSION.fullmatch(selector)
    if version is not None:
        index = int(version[1])
        if index > MAX_VERSION_INDEX:
            raise invalid_path(f"version '{selector}' is out of range")
        return None, index
    if _ALIAS.fullmatch(selector) is None:
        raise invalid_path(
            f"selector '{selector[:140]}' is neither a version (v<N>) nor a valid alias "
            "(letters, digits, '-', '_', '.'; at most 128 characters)"
        )
    return selector, None


def parse_path(path: str) -> ArtifactPath:
    if path.strip() == "":
        raise invalid_path(f"the path is empty; expected {FORMAT}")
    if len(path) > MAX_PATH_LENGTH:
        raise invalid_path(f"the path is longer than {MAX_PATH_LENGTH} characters")
    name_part, colon, selector = path.partition(":")
    if ":" in selector:
        raise invalid_path(f"the path '{path}' has more than one ':'")
    alias, index = parse_selector(selector) if colon else ("latest", None)
    parts = name_part.split("/")
    if len(parts) == 1:
        raise invalid_path(f"the path '{path}' has no collection part; expected {FORMAT}")
    if len(parts) > 3:
        raise invalid_path(f"the path '{path}' has too many '/' separated parts; expected {FORMAT}")
    if len(parts) == 2:
        organization, first, collection = None, parts[0], parts[1]
    else:
        organization, first, collection = parts
        if organization == "":
            raise invalid_path(f"the organization part of '{path}' is empty")
    is_registry = first.startswith(REGISTRY_PREFIX)
    if is_registry:
        registry = first[len(REGISTRY_PREFIX) :]
        if registry == "":
            raise invalid_path(f"the registry name after '{REGISTRY_PREFIX}' is empty in '{path}'")
        if collection == "":
            raise invalid_path(f"the collection part of '{path}' is empty")
        return ArtifactPath(organization, registry, None, collection, alias, index)
    if organization is None:
        raise invalid_path(
            f"'{first}' is not a registry (registry parts start with '{REGISTRY_PREFIX}'), and "
            f"artifact paths in a project need the organization: org/{first}/{collection or '…'}"
        )
    if first == "":
        raise invalid_path(f"the project part of '{path}' is empty")
    if collection == "":
        raise invalid_path(f"the artifact part of '{path}' is empty")
    return ArtifactPath(organization, None, first, collection, alias, index)


@dataclass(frozen=True, slots=True)
class CollectionPath:
    organization: str | None
    registry: str
    collection: str


def parse_collection_path(path: str, field: str = "targetPath") -> CollectionPath:
    """`[org/]wandb-registry-<registry>/<collection>`: where a link goes."""
    if ":" in path:
        raise DomainError(
            ErrorCode.INVALID_PATH,
            f"the target path '{path[:200]}' names a version; give the collection only, "
            "like acme/wandb-registry-model/churn",
            (field,),
        )
    try:
        parsed = parse_path(path)
    except DomainError as error:
        raise DomainError(error.code, error.message, (field,)) from None
    if parsed.registry is None:
        raise DomainError(
            ErrorCode.INVALID_PATH,
            f"the target path '{path[:200]}' is not in a registry: its second part must start "
            f"with '{REGISTRY_PREFIX}'",
            (field,),
        )
    return CollectionPath(parsed.organization, parsed.registry, parsed.collection)


async def read_path_at_once(ctx: Context, parsed: ArtifactPath, organization: str) -> None:
    """Reads every part of a path in one statement and primes the loaders that walking it part
    by part consults, so that the walk (with its rules and errors) then reads nothing more."""
    parent = parsed.registry if parsed.registry is not None else parsed.project
    if not all(storable(part) for part in (organization, parent or "", parsed.collection)):
        return  # the walk refuses such names without reading
    user_id = ctx.principal.user.id
    rows = await paths.path_rows(
        ctx.reads,
        organization,
        registry=parsed.registry,
        project=parsed.project,
        collection=parsed.collection,
        alias=parsed.alias,
        index=parsed.index,
        user_id=user_id,
        role_organizations=[
            org_id for org_id, role in ctx.principal.organization_roles.items() if role != "ADMIN"
        ],
    )
    loaders = ctx.loaders
    loaders.organization_by_name.prime(organization, rows.organization)
    org = rows.organization
    if org is None:
        return
    loaders.organization_by_id.prime(org.id, org)
    if parsed.registry is not None:
        loaders.registry_by_organization_name.prime((org.id, parsed.registry), rows.registry)
        if rows.registry is None:
            return
        registry_id = rows.registry.id
        loaders.registry_by_id.prime(registry_id, rows.registry)
        if rows.registry_role_read:
            loaders.registry_role.prime((registry_id, user_id), rows.registry_role)
        loaders.collection_by_registry_name.prime((registry_id, parsed.collection), rows.collection)
    else:
        assert parsed.project is not None
        loaders.project_by_organization_name.prime((org.id, parsed.project), rows.project)
        if rows.project is None:
            return
        loaders.project_by_id.prime(rows.project.id, rows.project)
        loaders.sequence_by_project_name.prime(
            (rows.project.id, parsed.collection), rows.collection
        )
    if rows.collection is None:
        return
    collection_id = rows.collection.id
    loaders.collection_by_id.prime(collection_id, rows.collection)
    if parsed.alias is not None:
        loaders.version_by_collection_alias.prime((collection_id, parsed.alias), rows.version)
    else:
        assert parsed.index is not None
        loaders.version_by_collection_index.prime((collection_id, parsed.index), rows.version)
    if rows.version is not None:
        loaders.version_by_id.prime(rows.version.id, rows.version)


async def read_version_at_once(ctx: Context, organization: str, parent: str, name: str) -> None:
    """`read_path_at_once` for a version named `<collection>[:<alias or vN>]` within a registry
    (`wandb-registry-<name>`) or project `parent`, as the W&B dialect names one. A name that
    makes no path is left for the walk to refuse."""
    try:
        parsed = parse_path(f"{organization}/{parent}/{name}")
    except DomainError:
        return
    await read_path_at_once(ctx, parsed, organization)
