"""Read-side resolver functions. Each returns only what the caller may see: an object the caller
may not see answers exactly as a missing one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from db import artifacts, automations, history, organizations, registries, runs
from db.pagination import InvalidPageRequest, ListSpec, Page, page_request
from db.records import (
    ArtifactVersion,
    Collection,
    Organization,
    Project,
    Registry,
    Run,
    Team,
    User,
)
from resolvers.authorization import (
    can_download,
    can_view,
    can_view_organization,
    registry_role,
    registry_role_by_id,
)
from resolvers.authorization import registry_filter as registry_filter
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.paths import ArtifactPath, invalid_path, parse_path

T = TypeVar("T")

# Lists each object type exposes, re-exported for the schema layer.
REGISTRIES_BY_ORGANIZATION = registries.REGISTRIES_BY_ORGANIZATION
COLLECTIONS_BY_REGISTRY = registries.COLLECTIONS_BY_REGISTRY
SEQUENCES_BY_PROJECT = registries.SEQUENCES_BY_PROJECT
VERSIONS_BY_COLLECTION = artifacts.VERSIONS_BY_COLLECTION
VERSIONS_BY_CONTENT = artifacts.VERSIONS_BY_CONTENT
FILES_BY_CONTENT = artifacts.FILES_BY_CONTENT
INPUTS_BY_RUN = artifacts.INPUTS_BY_RUN
OUTPUTS_BY_RUN = artifacts.OUTPUTS_BY_RUN
MEMBERS_BY_ORGANIZATION = organizations.MEMBERS_BY_ORGANIZATION
PROJECTS_BY_ORGANIZATION = runs.PROJECTS_BY_ORGANIZATION
RUNS_BY_PROJECT = runs.RUNS_BY_PROJECT
RUNS_USING_CONTENT = runs.RUNS_USING_CONTENT
HISTORY_BY_REGISTRY = history.HISTORY_BY_REGISTRY
HISTORY_BY_COLLECTION = history.HISTORY_BY_COLLECTION
HISTORY_BY_ORGANIZATION = history.HISTORY_BY_ORGANIZATION
TEAMS_BY_ORGANIZATION = organizations.TEAMS_BY_ORGANIZATION
MEMBERS_BY_TEAM = organizations.MEMBERS_BY_TEAM
MEMBERS_BY_REGISTRY = registries.MEMBERS_BY_REGISTRY
AUTOMATIONS_BY_REGISTRY = automations.AUTOMATIONS_BY_REGISTRY
AUTOMATIONS_BY_COLLECTION = automations.AUTOMATIONS_BY_COLLECTION


async def _visible(ctx: Context, obj: T | None) -> T | None:
    return obj if await can_view(ctx, obj) else None  # type: ignore[arg-type]


async def require_download(ctx: Context, version: ArtifactVersion) -> None:
    """Files are content: RESTRICTED_VIEWERs of a registry see its metadata, not its files."""
    if not await can_download(ctx, version.registry_id):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            "seeing files needs the VIEWER role in this registry; you are RESTRICTED_VIEWER",
            ("files",),
        )


def _storable(text: str) -> bool:
    """PostgreSQL text cannot hold NUL: a name with one matches nothing, and must not reach the
    database, which would refuse the statement."""
    return "\x00" not in text


async def page(
    ctx: Context,
    spec: ListSpec[T],
    parent_id: int,
    *,
    first: int | None,
    last: int | None,
    after: str | None,
    before: str | None,
    filter_value: Any = None,
) -> Page[T]:
    """A page of a visible parent's list. Children of a visible parent are visible."""
    try:
        request = page_request(spec, first=first, last=last, after=after, before=before)
    except InvalidPageRequest as error:
        raise DomainError(ErrorCode.INVALID_ARGUMENT, str(error), (error.argument,)) from None
    result: Page[T] = await ctx.loaders.page.load((spec, parent_id, request, filter_value))
    return result


async def total_count(
    ctx: Context, spec: ListSpec[Any], parent_id: int, filter_value: Any = None
) -> int:
    return await ctx.loaders.count.load((spec, parent_id, filter_value))


async def user(ctx: Context, user_id: int | None) -> User | None:
    """Users are visible by id to anyone signed in: their name is what shows on a link or run."""
    if user_id is None:
        return None
    return await ctx.loaders.user_by_id.load(user_id)


async def organization(ctx: Context, organization_id: int) -> Organization | None:
    return await _visible(ctx, await ctx.loaders.organization_by_id.load(organization_id))


async def organization_by_name(ctx: Context, name: str) -> Organization | None:
    if not _storable(name):
        return None
    return await _visible(ctx, await ctx.loaders.organization_by_name.load(name))


async def viewer_organizations(ctx: Context) -> list[Organization]:
    ids = sorted(ctx.principal.organization_roles)
    found = await ctx.loaders.organization_by_id.load_many(ids)
    return sorted((o for o in found if o is not None), key=lambda o: o.name)


async def viewer_registry_role(ctx: Context, registry: Registry) -> str | None:
    return await registry_role(ctx, registry)


def viewer_role(ctx: Context, organization_id: int) -> str | None:
    return ctx.principal.organization_roles.get(organization_id)


async def registry(ctx: Context, registry_id: int) -> Registry | None:
    return await _visible(ctx, await ctx.loaders.registry_by_id.load(registry_id))


async def registry_in_organization(
    ctx: Context, organization_id: int, name: str
) -> Registry | None:
    if not can_view_organization(ctx, organization_id) or not _storable(name):
        return None
    found = await ctx.loaders.registry_by_organization_name.load((organization_id, name))
    return await _visible(ctx, found)


async def registry_by_name(ctx: Context, organization_name: str, name: str) -> Registry | None:
    org = await organization_by_name(ctx, organization_name)
    return None if org is None else await registry_in_organization(ctx, org.id, name)


async def collection(ctx: Context, collection_id: int) -> Collection | None:
    return await _visible(ctx, await ctx.loaders.collection_by_id.load(collection_id))


async def registry_collection(ctx: Context, registry_id: int, name: str) -> Collection | None:
    if not _storable(name):
        return None
    return await _visible(
        ctx, await ctx.loaders.collection_by_registry_name.load((registry_id, name))
    )


async def project_sequence(ctx: Context, project_id: int, name: str) -> Collection | None:
    if not _storable(name):
        return None
    return await _visible(ctx, await ctx.loaders.sequence_by_project_name.load((project_id, name)))


async def collection_tags(ctx: Context, collection_id: int) -> list[str]:
    return await ctx.loaders.tags_by_collection.load(collection_id)


async def collection_aliases(ctx: Context, collection_id: int) -> list[tuple[str, ArtifactVersion]]:
    pairs = await ctx.loaders.aliases_by_collection.load(collection_id)
    versions = await ctx.loaders.version_by_id.load_many([v for _, v in pairs])
    return [(alias, v) for (alias, _), v in zip(pairs, versions, strict=True) if v is not None]


async def collection_version(
    ctx: Context, collection_id: int, *, alias: str | None, index: int | None
) -> ArtifactVersion | None:
    """The version holding `alias`, or the one at `index`; exactly one must be given."""
    if (alias is None) == (index is None):
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, "give exactly one of `alias` and `index`", ("alias",)
        )
    if index is not None:
        found = await ctx.loaders.version_by_collection_index.load((collection_id, index))
    else:
        assert alias is not None
        if not _storable(alias):
            return None
        found = await ctx.loaders.version_by_collection_alias.load((collection_id, alias))
    return await _visible(ctx, found)


async def collection_version_as_of(
    ctx: Context, collection_id: int, alias: str | None, index: int | None, as_of: datetime
) -> ArtifactVersion | None:
    """The version that held `alias` at `as_of` (None if none did, or it was since unlinked)."""
    if alias is None or index is not None:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, "`asOf` resolves an `alias`; give no `index`", ("asOf",)
        )
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    if not _storable(alias):
        return None
    version_id = await ctx.loaders.alias_holder_as_of.load((collection_id, alias, as_of))
    return None if version_id is None else await version(ctx, version_id)


async def alias_periods(ctx: Context, version_id: int) -> list[history.AliasPeriod]:
    return await ctx.loaders.alias_periods_by_version.load(version_id)


async def version(ctx: Context, version_id: int) -> ArtifactVersion | None:
    return await _visible(ctx, await ctx.loaders.version_by_id.load(version_id))


async def version_aliases(ctx: Context, version_id: int) -> list[str]:
    return await ctx.loaders.aliases_by_version.load(version_id)


async def version_tags(ctx: Context, version_id: int) -> list[str]:
    return await ctx.loaders.tags_by_version.load(version_id)


async def source_version(ctx: Context, content_id: int) -> ArtifactVersion | None:
    return await _visible(ctx, await ctx.loaders.source_version_by_content.load(content_id))


async def version_path(ctx: Context, version: ArtifactVersion) -> str:
    """`org/wandb-registry-<registry>/<collection>:v<N>`, or `org/<project>/<artifact>:v<N>`."""
    coll = await ctx.loaders.collection_by_id.load(version.collection_id)
    org = await ctx.loaders.organization_by_id.load(version.organization_id)
    assert coll is not None
    assert org is not None
    if coll.registry_id is not None:
        reg = await ctx.loaders.registry_by_id.load(coll.registry_id)
        assert reg is not None
        middle = f"wandb-registry-{reg.name}"
    else:
        assert coll.project_id is not None
        proj = await ctx.loaders.project_by_id.load(coll.project_id)
        assert proj is not None
        middle = proj.name
    return f"{org.name}/{middle}/{coll.name}:v{version.version_index}"


async def project(ctx: Context, project_id: int) -> Project | None:
    return await _visible(ctx, await ctx.loaders.project_by_id.load(project_id))


async def project_by_name(ctx: Context, organization_id: int, name: str) -> Project | None:
    if not can_view_organization(ctx, organization_id) or not _storable(name):
        return None
    return await _visible(
        ctx, await ctx.loaders.project_by_organization_name.load((organization_id, name))
    )


async def run(ctx: Context, run_id: int | None) -> Run | None:
    if run_id is None:
        return None
    return await _visible(ctx, await ctx.loaders.run_by_id.load(run_id))


async def version_by_path(
    ctx: Context, path: str, default_organization: str | None = None
) -> ArtifactVersion:
    """Resolves a path to one version, or raises an error naming the part that is wrong."""
    parsed = parse_path(path)
    org = await _path_organization(ctx, parsed, default_organization)
    coll: Collection | None
    if parsed.registry is not None:
        reg = await registry_in_organization(ctx, org.id, parsed.registry)
        if reg is None:
            raise not_found(
                f"registry '{parsed.registry}' not found in organization '{org.name}'", ("path",)
            )
        coll = await registry_collection(ctx, reg.id, parsed.collection)
        if coll is None:
            raise not_found(
                f"collection '{parsed.collection}' not found in registry '{reg.name}'", ("path",)
            )
    else:
        assert parsed.project is not None
        proj = await project_by_name(ctx, org.id, parsed.project)
        if proj is None:
            raise not_found(
                f"project '{parsed.project}' not found in organization '{org.name}'", ("path",)
            )
        coll = await project_sequence(ctx, proj.id, parsed.collection)
        if coll is None:
            raise not_found(
                f"artifact '{parsed.collection}' not found in project '{proj.name}'", ("path",)
            )
    found = await collection_version(ctx, coll.id, alias=parsed.alias, index=parsed.index)
    if found is None:
        selector = parsed.alias if parsed.alias is not None else f"v{parsed.index}"
        kind = "alias" if parsed.alias is not None else "version"
        raise not_found(f"{kind} '{selector}' not found in '{coll.name}'", ("path",))
    return found


async def _path_organization(
    ctx: Context, parsed: ArtifactPath, default_organization: str | None
) -> Organization:
    name = parsed.organization or default_organization
    if name is None:
        orgs = await viewer_organizations(ctx)
        if len(orgs) != 1:
            raise invalid_path(
                f"the path names no organization and you belong to {len(orgs)}; "
                "start the path with one, like acme/wandb-registry-model/…"
            )
        return orgs[0]
    org = await organization_by_name(ctx, name)
    if org is None:
        raise not_found(f"organization '{name}' not found", ("path",))
    return org


async def registry_versions_of_contents(
    ctx: Context, content_ids: list[int]
) -> list[ArtifactVersion]:
    """All registry versions of the contents, visible or not: the caller filters and counts."""
    return await artifacts.registry_versions_of_contents(ctx.pool, content_ids)


async def sequence_names(ctx: Context, sequence_ids: list[int]) -> dict[int, str]:
    found = await ctx.loaders.collection_by_id.load_many(sequence_ids)
    return {c.id: c.name for c in found if c is not None}


async def team(ctx: Context, team_id: int) -> Team | None:
    return await _visible(ctx, await ctx.loaders.team_by_id.load(team_id))


async def require_registry_member(ctx: Context, registry_id: int, what: str) -> None:
    """Some of a registry's settings are for those who may change things in it."""
    role = await registry_role_by_id(ctx, registry_id)
    if role not in ("MEMBER", "ADMIN"):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, f"{what} are visible to registry members and admins only"
        )


def require_organization_admin(ctx: Context, organization_id: int, what: str) -> None:
    if ctx.principal.organization_roles.get(organization_id) != "ADMIN":
        raise DomainError(
            ErrorCode.PERMISSION_DENIED, f"{what} is visible to organization admins only"
        )


async def nodes_of_kind(ctx: Context, kind: str, ids: Sequence[int]) -> list[Any]:
    """Objects by kind and id for `node`/`nodes`, None where missing or not visible."""
    if kind == "User":
        # A user is visible to people who share an organization with them.
        users = await ctx.loaders.user_by_id.load_many(ids)
        memberships = await ctx.loaders.organization_ids_by_user.load_many(ids)
        return [
            u if u is not None and any(can_view_organization(ctx, o) for o in orgs) else None
            for u, orgs in zip(users, memberships, strict=True)
        ]
    loaders: dict[str, Any] = {
        "Organization": ctx.loaders.organization_by_id,
        "Registry": ctx.loaders.registry_by_id,
        "Collection": ctx.loaders.collection_by_id,
        "ArtifactSequence": ctx.loaders.collection_by_id,
        "ArtifactVersion": ctx.loaders.version_by_id,
        "Project": ctx.loaders.project_by_id,
        "Run": ctx.loaders.run_by_id,
        "Team": ctx.loaders.team_by_id,
    }
    loader = loaders.get(kind)
    if loader is None:  # an ID that names something not fetchable by ID (an API key)
        return [None] * len(ids)
    found = await loader.load_many(ids)
    # Gathered, so the visibility checks of all the objects load in one batch.
    results = list(await asyncio.gather(*(_visible(ctx, obj) for obj in found)))
    if kind in ("Collection", "ArtifactSequence"):
        # One table holds both; an id of one kind must not resolve as the other.
        want_registry = kind == "Collection"
        results = [
            c if c is not None and (c.registry_id is not None) == want_registry else None
            for c in results
        ]
    return results
