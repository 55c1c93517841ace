"""An artifact path's walk in one statement: the organization, the registry (with the caller's
role given in it) or project, the collection, and the version an alias or index names, each
null from the part that is missing on. The resolvers prime their loaders with the rows, and then
walk the path as they would part by part, with the same rules and the same errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from db.collections import COLLECTION_COLUMNS
from db.organizations import ORGANIZATION_COLUMNS
from db.pool import Executor
from db.records import (
    ArtifactVersion,
    Collection,
    Organization,
    Project,
    Registry,
    from_prefixed,
    prefixed,
)
from db.registries import REGISTRY_COLUMNS, given_role_sql
from db.runs import PROJECT_COLUMNS
from db.versions import VERSION_COLUMNS

_SELECT_PATH = f"""
SELECT {prefixed(ORGANIZATION_COLUMNS, "o_")}, {{parent_columns}},
       {prefixed(COLLECTION_COLUMNS, "col_")}, {prefixed(VERSION_COLUMNS, "v_")}
FROM organizations o
{{parent_join}}
LEFT JOIN collections col ON {{collection_join}}
{{version_join}}
LEFT JOIN artifact_contents c ON c.id = v.content_id
WHERE o.name = $1
"""
# Registries match their names in any case; collections, projects and aliases exactly (as the
# loaders the walk would use).
_REGISTRY = {
    "parent_join": """LEFT JOIN registries r
  ON r.organization_id = o.id AND lower(r.name) = lower($2)""",
    "collection_join": "col.registry_id = r.id AND col.name = $3",
}
# The caller's given role is read only in the organizations of $6, where the walk would read it
# (an organization admin's needs no reading). A caller who is an admin wherever they belong gets
# a statement that names no role table at all, so that it never waits on one.
_WITH_ROLE = (
    f"{prefixed(REGISTRY_COLUMNS, 'r_')}, CASE WHEN o.id = ANY($6::bigint[]) "
    f"THEN {given_role_sql('r.id', '$5::bigint')} END AS r_role"
)
_WITHOUT_ROLE = f"{prefixed(REGISTRY_COLUMNS, 'r_')}, NULL::text AS r_role"
_PROJECT = {
    "parent_columns": prefixed(PROJECT_COLUMNS, "pj_"),
    "parent_join": "LEFT JOIN projects pj ON pj.organization_id = o.id AND pj.name = $2",
    "collection_join": "col.project_id = pj.id AND col.name = $3",
}
_BY_ALIAS = """LEFT JOIN aliases al ON al.collection_id = col.id AND al.alias = $4
LEFT JOIN artifact_versions v ON v.id = al.version_id"""
_BY_INDEX = """LEFT JOIN artifact_versions v
  ON v.collection_id = col.id AND v.version_index = $4::integer"""


def _registry_path(parent_columns: str, version_join: str) -> str:
    return _SELECT_PATH.format(
        **_REGISTRY, parent_columns=parent_columns, version_join=version_join
    )


SELECT_REGISTRY_PATH_BY_ALIAS = _registry_path(_WITH_ROLE, _BY_ALIAS)
SELECT_REGISTRY_PATH_BY_INDEX = _registry_path(_WITH_ROLE, _BY_INDEX)
SELECT_ADMIN_REGISTRY_PATH_BY_ALIAS = _registry_path(_WITHOUT_ROLE, _BY_ALIAS)
SELECT_ADMIN_REGISTRY_PATH_BY_INDEX = _registry_path(_WITHOUT_ROLE, _BY_INDEX)
SELECT_PROJECT_PATH_BY_ALIAS = _SELECT_PATH.format(**_PROJECT, version_join=_BY_ALIAS)
SELECT_PROJECT_PATH_BY_INDEX = _SELECT_PATH.format(**_PROJECT, version_join=_BY_INDEX)


@dataclass(frozen=True, slots=True)
class PathRows:
    """What a path's walk found, part by part; None from the first missing part on."""

    organization: Organization | None
    registry: Registry | None = None
    # The caller's role given in the registry (directly or through a team), if it was read.
    registry_role: str | None = None
    registry_role_read: bool = False
    project: Project | None = None
    collection: Collection | None = None
    version: ArtifactVersion | None = None


async def path_rows(
    conn: Executor,
    organization: str,
    *,
    registry: str | None,
    project: str | None,
    collection: str,
    alias: str | None,
    index: int | None,
    user_id: int,
    role_organizations: Sequence[int],
) -> PathRows:
    """The rows of `organization/(wandb-registry-<registry>|<project>)/<collection>:<alias or
    v<index>>` (exactly one of registry and project, and of alias and index), with the user's
    given role in the registry if it is in one of `role_organizations`."""
    selector = alias if alias is not None else index
    if registry is not None and role_organizations:
        sql = SELECT_REGISTRY_PATH_BY_ALIAS if alias is not None else SELECT_REGISTRY_PATH_BY_INDEX
        row = await conn.fetchrow(
            sql, organization, registry, collection, selector, user_id, list(role_organizations)
        )
    elif registry is not None:
        sql = (
            SELECT_ADMIN_REGISTRY_PATH_BY_ALIAS
            if alias is not None
            else SELECT_ADMIN_REGISTRY_PATH_BY_INDEX
        )
        row = await conn.fetchrow(sql, organization, registry, collection, selector)
    else:
        sql = SELECT_PROJECT_PATH_BY_ALIAS if alias is not None else SELECT_PROJECT_PATH_BY_INDEX
        row = await conn.fetchrow(sql, organization, project, collection, selector)
    if row is None:
        return PathRows(None)
    return PathRows(
        organization=from_prefixed(Organization, row, "o_"),
        registry=from_prefixed(Registry, row, "r_") if registry is not None else None,
        registry_role=row["r_role"] if registry is not None else None,
        registry_role_read=registry is not None and row["o_id"] in role_organizations,
        project=from_prefixed(Project, row, "pj_") if project is not None else None,
        collection=from_prefixed(Collection, row, "col_"),
        version=from_prefixed(ArtifactVersion, row, "v_"),
    )
