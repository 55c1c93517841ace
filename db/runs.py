"""Projects, runs, and the runs that used each content."""

from __future__ import annotations

from collections.abc import Sequence

from db.pagination import ListSpec, SortKey
from db.pool import Connection, Executor, fetch_one
from db.records import Project, Run, from_record, records_by_id, records_by_pair

PROJECT_COLUMNS = "pj.id, pj.organization_id, pj.name, pj.description, pj.created_at"
RUN_COLUMNS = """rn.id, pj.organization_id, rn.project_id, rn.name, rn.state::text AS state,
rn.config, rn.summary, rn.user_id, rn.created_at, rn.finished_at"""

SELECT_PROJECTS_BY_ID = f"SELECT {PROJECT_COLUMNS} FROM projects pj WHERE pj.id = ANY($1::bigint[])"


async def projects_by_id(conn: Executor, ids: Sequence[int]) -> list[Project | None]:
    return await records_by_id(conn, SELECT_PROJECTS_BY_ID, ids, Project)


SELECT_PROJECTS_BY_ORGANIZATION_NAME = f"""
SELECT k.organization_id AS key_organization_id, k.name AS key_name, {PROJECT_COLUMNS}
FROM unnest($1::bigint[], $2::text[]) AS k(organization_id, name)
JOIN projects pj ON pj.organization_id = k.organization_id AND pj.name = k.name
"""


async def projects_by_organization_name(
    conn: Executor, keys: Sequence[tuple[int, str]]
) -> list[Project | None]:
    key_columns = ("key_organization_id", "key_name")
    sql = SELECT_PROJECTS_BY_ORGANIZATION_NAME
    return await records_by_pair(conn, sql, keys, key_columns, Project)


SELECT_RUNS_BY_ID = f"""
SELECT {RUN_COLUMNS} FROM runs rn JOIN projects pj ON pj.id = rn.project_id
WHERE rn.id = ANY($1::bigint[])
"""


async def runs_by_id(conn: Executor, ids: Sequence[int]) -> list[Run | None]:
    return await records_by_id(conn, SELECT_RUNS_BY_ID, ids, Run)


SELECT_RUNS_BY_PROJECT_NAME = f"""
SELECT k.project_id AS key_project_id, k.name AS key_name, {RUN_COLUMNS}
FROM unnest($1::bigint[], $2::text[]) AS k(project_id, name)
JOIN runs rn ON rn.project_id = k.project_id AND rn.name = k.name
JOIN projects pj ON pj.id = rn.project_id
"""


async def runs_by_project_name(conn: Executor, keys: Sequence[tuple[int, str]]) -> list[Run | None]:
    key_columns = ("key_project_id", "key_name")
    return await records_by_pair(conn, SELECT_RUNS_BY_PROJECT_NAME, keys, key_columns, Run)


PROJECTS_BY_ORGANIZATION: ListSpec[Project] = ListSpec(
    name="organization.projects",
    columns=PROJECT_COLUMNS,
    source="FROM projects pj WHERE pj.organization_id = p.parent_id",
    keys=(SortKey("pj.name", "text"),),
    descending=False,
    record=lambda row: from_record(Project, row),
)

RUNS_BY_PROJECT: ListSpec[Run] = ListSpec(
    name="project.runs",
    columns=RUN_COLUMNS,
    source="FROM runs rn JOIN projects pj ON pj.id = rn.project_id "
    "WHERE rn.project_id = p.parent_id",
    keys=(SortKey("rn.created_at", "timestamptz"), SortKey("rn.id", "bigint")),
    descending=True,
    record=lambda row: from_record(Run, row),
)

RUNS_USING_CONTENT: ListSpec[Run] = ListSpec(
    name="artifactVersion.usedBy",
    columns=RUN_COLUMNS,
    source="""FROM run_inputs ri JOIN runs rn ON rn.id = ri.run_id
JOIN projects pj ON pj.id = rn.project_id WHERE ri.content_id = p.parent_id""",
    keys=(SortKey("ri.used_at", "timestamptz"), SortKey("ri.run_id", "bigint")),
    descending=True,
    record=lambda row: from_record(Run, row),
)


INSERT_PROJECT = f"""
INSERT INTO projects AS pj (organization_id, name, description) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
RETURNING {PROJECT_COLUMNS}
"""


async def insert_project(
    conn: Connection, organization_id: int, name: str, description: str
) -> Project | None:
    """The new project, or None when the name is taken."""
    row = await conn.fetchrow(INSERT_PROJECT, organization_id, name, description)
    return None if row is None else from_record(Project, row)


INSERT_RUN = """
INSERT INTO runs (project_id, name, config, user_id) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING RETURNING id
"""
SELECT_RUN = f"""
SELECT {RUN_COLUMNS} FROM runs rn JOIN projects pj ON pj.id = rn.project_id WHERE rn.id = $1
"""


async def insert_run(
    conn: Connection,
    project_id: int,
    name: str,
    config: dict[str, object],
    user_id: int | None,
) -> Run | None:
    """The new run, or None when the name is taken in the project."""
    run_id = await conn.fetchval(INSERT_RUN, project_id, name, config, user_id)
    if run_id is None:
        return None
    return from_record(Run, await fetch_one(conn, SELECT_RUN, run_id))


UPDATE_RUN = f"""
WITH updated AS (
    UPDATE runs SET state = coalesce($2::run_state, state), summary = summary || $3,
        finished_at = CASE WHEN $2::run_state IS NOT NULL AND state = 'RUNNING'
                           THEN clock_timestamp() ELSE finished_at END
    WHERE id = $1
    RETURNING *
)
SELECT {RUN_COLUMNS} FROM updated rn JOIN projects pj ON pj.id = rn.project_id
"""


async def update_run(
    conn: Connection, run_id: int, state: str | None, summary: dict[str, object]
) -> Run:
    """Merges `summary` into the run's; a new (final) state also sets `finished_at`."""
    return from_record(Run, await fetch_one(conn, UPDATE_RUN, run_id, state, summary))


INSERT_RUN_INPUT = """
INSERT INTO run_inputs (run_id, content_id, version_id) VALUES ($1, $2, $3)
ON CONFLICT (run_id, content_id) DO NOTHING
"""


async def insert_run_input(conn: Connection, run_id: int, content_id: int, version_id: int) -> None:
    await conn.execute(INSERT_RUN_INPUT, run_id, content_id, version_id)
