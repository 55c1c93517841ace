"""Projects, runs (with what the wandb SDK records as they go: history, summary, files), and
the runs that used each content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from db.pagination import ListSpec, SortKey
from db.pool import Connection, Executor, fetch_one
from db.records import (
    HistoryRow,
    Project,
    Run,
    RunFile,
    from_record,
    records_by_id,
    records_by_pair,
)

PROJECT_COLUMNS = "pj.id, pj.organization_id, pj.name, pj.description, pj.created_at"
RUN_COLUMNS = """rn.id, pj.organization_id, rn.project_id, rn.name, rn.state::text AS state,
rn.config, rn.summary, rn.user_id, rn.created_at, rn.finished_at, rn.display_name, rn.notes,
rn.tags, rn.group_name, rn.job_type, rn.exit_code, rn.heartbeat_at"""

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


# What the wandb SDK sends as a run goes: the run made or updated by name, its history, its
# summary, its end, and its files.

UPSERT_RUN = """
INSERT INTO runs AS rn (project_id, name, user_id, config, summary, display_name, notes, tags,
                        group_name, job_type, heartbeat_at)
VALUES ($1, $2, $3, coalesce($4, '{}'::jsonb), coalesce($5, '{}'::jsonb), coalesce($6, ''),
        coalesce($7, ''), coalesce($8, '{}'::text[]), $9, $10, clock_timestamp())
ON CONFLICT (project_id, name) DO UPDATE SET
    config = coalesce($4, rn.config),
    summary = rn.summary || coalesce($5, '{}'::jsonb),
    display_name = coalesce($6, rn.display_name),
    notes = coalesce($7, rn.notes),
    tags = coalesce($8, rn.tags),
    group_name = coalesce($9, rn.group_name),
    job_type = coalesce($10, rn.job_type),
    heartbeat_at = clock_timestamp()
RETURNING rn.id, rn.xmax = 0 AS inserted
"""


@dataclass(frozen=True, slots=True)
class RunDetails:
    """What the SDK says about a run; None leaves a value as it is."""

    config: dict[str, object] | None = None
    summary: dict[str, object] | None = None
    display_name: str | None = None
    notes: str | None = None
    tags: list[str] | None = None
    group_name: str | None = None
    job_type: str | None = None


async def upsert_run(
    conn: Connection, project_id: int, name: str, user_id: int, details: RunDetails
) -> tuple[Run, bool]:
    """The run named `name` in the project, made or updated, and whether it was made."""
    row = await fetch_one(
        conn,
        UPSERT_RUN,
        project_id,
        name,
        user_id,
        details.config,
        details.summary,
        details.display_name,
        details.notes,
        details.tags,
        details.group_name,
        details.job_type,
    )
    run = from_record(Run, await fetch_one(conn, SELECT_RUN, row["id"]))
    return run, row["inserted"]


# A line past the last one a run may keep is dropped, so a run's history stays bounded.
INSERT_HISTORY = """
INSERT INTO run_history (run_id, line, row)
SELECT $1, $2 + h.position - 1, h.row
FROM unnest($3::jsonb[]) WITH ORDINALITY AS h(row, position)
WHERE $2 + h.position - 1 < $4
ON CONFLICT (run_id, line) DO UPDATE SET row = excluded.row
"""


async def insert_history(
    conn: Connection, run_id: int, offset: int, rows: Sequence[dict[str, object]], max_lines: int
) -> None:
    """Stores `rows` as the run's history lines from `offset` on (again, when resent)."""
    await conn.execute(INSERT_HISTORY, run_id, offset, list(rows), max_lines)


# A final state (with its exit code) ends the run; anything else the SDK streams means it is
# running: again, for a run that was resumed, or that went silent and was marked CRASHED.
UPDATE_STREAMED_RUN = """
UPDATE runs SET
    summary = coalesce($2, summary),
    heartbeat_at = clock_timestamp(),
    state = coalesce($3::run_state, 'RUNNING'),
    exit_code = CASE WHEN $3 IS NULL THEN NULL ELSE $4::integer END,
    finished_at = CASE WHEN $3 IS NULL THEN NULL ELSE clock_timestamp() END
WHERE id = $1
"""


async def update_streamed_run(
    conn: Connection,
    run_id: int,
    summary: dict[str, object] | None,
    state: str | None,
    exit_code: int | None,
) -> None:
    """Records that the run was heard from, with its whole summary when sent, and its end
    (`state`) or that it is running."""
    await conn.execute(UPDATE_STREAMED_RUN, run_id, summary, state, exit_code)


MARK_CRASHED = """
UPDATE runs SET state = 'CRASHED', finished_at = clock_timestamp()
WHERE state = 'RUNNING' AND heartbeat_at < clock_timestamp() - $1::interval
RETURNING id
"""


async def mark_crashed(conn: Executor, silent_for: timedelta) -> list[int]:
    """Ends as CRASHED the runs the SDK stopped hearing from `silent_for` ago."""
    return [row["id"] for row in await conn.fetch(MARK_CRASHED, silent_for)]


HISTORY_BY_RUN: ListSpec[HistoryRow] = ListSpec(
    name="run.history",
    columns="h.run_id, h.line, h.row",
    source="FROM run_history h WHERE h.run_id = p.parent_id",
    keys=(SortKey("h.line", "integer"),),
    descending=False,
    record=lambda row: from_record(HistoryRow, row),
)

RUN_FILE_COLUMNS = "f.run_id, f.name, f.sha256, f.size, f.updated_at"

FILES_BY_RUN: ListSpec[RunFile] = ListSpec(
    name="run.files",
    columns=RUN_FILE_COLUMNS,
    source="FROM run_files f WHERE f.run_id = p.parent_id",
    keys=(SortKey("f.name", "text"),),
    descending=False,
    record=lambda row: from_record(RunFile, row),
)

UPSERT_RUN_FILE = """
INSERT INTO run_files (run_id, name, sha256, size) VALUES ($1, $2, $3, $4)
ON CONFLICT (run_id, name) DO UPDATE
SET sha256 = excluded.sha256, size = excluded.size, updated_at = clock_timestamp()
"""


async def upsert_run_file(conn: Connection, run_id: int, name: str, sha256: str, size: int) -> None:
    await conn.execute(UPSERT_RUN_FILE, run_id, name, sha256, size)


COUNT_RUN_FILES = "SELECT count(*) FROM run_files WHERE run_id = $1 AND NOT (name = ANY($2))"


async def count_other_run_files(conn: Executor, run_id: int, names: Sequence[str]) -> int:
    """How many files the run has besides `names`."""
    count: int = await conn.fetchval(COUNT_RUN_FILES, run_id, list(names))
    return count


# `$2` of the run's history lines spread evenly from its first to its last (all of them when
# it has no more): the positions wanted are computed first, then taken from the numbered lines.
SELECT_HISTORY_SAMPLE = """
WITH counted AS (SELECT count(*) AS n FROM run_history WHERE run_id = $1),
wanted AS (
    SELECT DISTINCT CASE WHEN c.n <= $2 THEN i
                         ELSE round(i * (c.n - 1)::numeric / greatest($2 - 1, 1))::bigint END
           AS position
    FROM counted c, generate_series(0, least(c.n, $2) - 1) AS i
),
numbered AS (
    SELECT row, line, row_number() OVER (ORDER BY line) - 1 AS position
    FROM run_history WHERE run_id = $1
)
SELECT h.row FROM numbered h JOIN wanted w ON w.position = h.position ORDER BY h.line
"""


async def history_sample(conn: Executor, run_id: int, samples: int) -> list[dict[str, object]]:
    """The run's history, all of it or `samples` lines spread evenly, the last one included."""
    return [row["row"] for row in await conn.fetch(SELECT_HISTORY_SAMPLE, run_id, samples)]


SELECT_LAST_HISTORY_LINE = """
SELECT row FROM run_history WHERE run_id = $1 ORDER BY line DESC LIMIT 1
"""


async def last_history_line(conn: Executor, run_id: int) -> dict[str, object] | None:
    row: dict[str, object] | None = await conn.fetchval(SELECT_LAST_HISTORY_LINE, run_id)
    return row
