"""The real `cairn` command, run as subprocesses: migrations, the refusal to serve on a schema that
is behind, API keys, and the embedded PostgreSQL default over real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from db.migrate import load_migrations, migrate
from tests.support.databases import new_database
from tests.support.processes import (
    KEY,
    Server,
    cairn,
    cairn_env,
    free_port,
    killed_at_exit,
    the_key,
)


@pytest.fixture(scope="module")
def base_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every `cairn` process: nothing inherited that names a database."""
    return cairn_env(tmp_path_factory.mktemp("xdg-runtime"))


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """Running PostgreSQL server processes whose command line names `data_dir`."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if cmdline and Path(cmdline[0]).name == "postgres" and str(data_dir) in cmdline:
            found.append(process)
    return found


def stop_embedded(data_dir: Path) -> None:
    """Stops an embedded PostgreSQL that a failed test left running (pgserver runs it as the
    `pgserver` system user when we are root)."""
    if not postgres_processes(data_dir):
        return
    from pgserver._commands import create_command_function

    pg_ctl = create_command_function("pg_ctl")  # what pgserver binds to that name at import
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user, timeout=20)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        for process in postgres_processes(data_dir):
            process.kill()


# --- with DATABASE_URL ---------------------------------------------------------------------------


@pytest.fixture
def url_env(base_env: dict[str, str], empty_url: str) -> dict[str, str]:
    return {**base_env, "DATABASE_URL": empty_url}


@pytest.fixture
async def demo_url(server_url: str) -> AsyncIterator[str]:
    """A fresh database, migrated and seeded with the demo org in-process."""
    async with new_database(server_url, demo=True) as url:
        yield url


async def count_keys(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM api_keys"))
    finally:
        await conn.close()


def test_migrate_check_migrate_and_check_again(url_env: dict[str, str]) -> None:
    names = [f"{m.version:04d}_{m.name}" for m in load_migrations()]

    check = cairn("migrate", "--check", env=url_env)
    assert check.returncode == 1, check
    assert f"{len(names)} pending migration(s)" in check.stdout
    for name in names:
        assert name in check.stdout

    applied = cairn("migrate", env=url_env)
    assert applied.returncode == 0, applied.stderr
    assert f"applied {len(names)} migration(s): {', '.join(names)}" in applied.stdout

    check = cairn("migrate", "--check", env=url_env)
    assert check.returncode == 0, check
    assert "current" in check.stdout

    again = cairn("migrate", env=url_env)
    assert again.returncode == 0, again.stderr
    assert "applied 0 migration(s)" in again.stdout


def test_serve_refuses_an_unmigrated_database(url_env: dict[str, str]) -> None:
    port = str(free_port())
    try:
        result = cairn("serve", "--port", port, env=url_env, timeout=30)
    except subprocess.TimeoutExpired:  # pragma: no cover - the failure being tested for
        pytest.fail("cairn serve kept running on an unmigrated database")
    assert result.returncode != 0
    assert "cairn migrate" in result.stderr
    assert "pending migration" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    # It refused without touching the schema.
    assert cairn("migrate", "--check", env=url_env).returncode == 1


@pytest.mark.parametrize(
    ("tampering", "named"),
    [
        (
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')",
            "9999_future",
        ),
        ("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1", "0001_domain.sql"),
    ],
    ids=["newer-cairn", "edited-file"],
)
async def test_an_inconsistent_schema_history_is_refused_without_a_traceback(
    url_env: dict[str, str], empty_url: str, tampering: str, named: str
) -> None:
    conn = await asyncpg.connect(empty_url)
    try:
        await migrate(conn)
        await conn.execute(tampering)
    finally:
        await conn.close()

    for command in (["serve", "--port", str(free_port())], ["migrate"], ["migrate", "--check"]):
        result = cairn(*command, env=url_env, timeout=30)
        assert result.returncode != 0, command
        assert named in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert "pending" not in result.stdout, command


def test_demo_then_a_key_that_works_against_a_running_server(
    url_env: dict[str, str], tmp_path: Path
) -> None:
    assert cairn("migrate", env=url_env).returncode == 0
    demo = cairn("demo", env=url_env)
    assert demo.returncode == 0, demo.stderr
    assert "Demo organization `acme` created." in demo.stderr

    key = the_key(cairn("keys", "create", "--user", "ada", "--org", "acme", env=url_env))

    with killed_at_exit() as started:
        server = Server([], url_env, tmp_path)
        started.append(server)
        server.wait_healthy()
        data = server.graphql(key)
        assert data["viewer"] == {"name": "ada"}
        assert data["organization"]["registries"]["totalCount"] >= 3
        # A made-up key of the same shape does not authenticate.
        forged = httpx.post(
            f"{server.base_url}/graphql",
            json={"query": "{ viewer { name } }"},
            headers={"Authorization": f"Bearer cairn_{'A' * 43}"},
            timeout=10,
        )
        assert forged.status_code == 401, forged.text
        assert server.stop() == 0


async def test_keys_for_an_unknown_user_are_refused(
    base_env: dict[str, str], demo_url: str
) -> None:
    env = {**base_env, "DATABASE_URL": demo_url}
    before = await count_keys(demo_url)

    result = cairn("keys", "create", "--user", "nobody", env=env)

    assert result.returncode != 0
    assert result.stdout == ""
    assert "'nobody'" in result.stderr
    assert "Traceback" not in result.stderr
    assert await count_keys(demo_url) == before


@pytest.mark.parametrize("org", ["globex", "acme-typo"])
async def test_keys_for_an_org_the_user_is_not_in_are_refused(
    base_env: dict[str, str], demo_url: str, org: str
) -> None:
    env = {**base_env, "DATABASE_URL": demo_url}
    conn = await asyncpg.connect(demo_url)
    try:
        # globex exists, but ada is not a member of it.
        await conn.execute(
            "INSERT INTO organizations (name, display_name) VALUES ('globex', 'Globex')"
        )
    finally:
        await conn.close()
    before = await count_keys(demo_url)

    result = cairn("keys", "create", "--user", "ada", "--org", org, env=env)

    assert result.returncode != 0
    assert result.stdout == ""
    assert f"'{org}'" in result.stderr
    assert "'ada'" in result.stderr
    assert "Traceback" not in result.stderr
    assert await count_keys(demo_url) == before


# --- the embedded default ------------------------------------------------------------------------


def test_embedded_default_serves_survives_restarts_and_stops_cleanly(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    data_dir = (tmp_path / "pgdata").resolve()
    env = dict(base_env)
    logs = tmp_path / "logs"
    try:
        with killed_at_exit() as started:
            first = Server(["--demo", "--data-dir", str(data_dir)], env, logs)
            started.append(first)
            first.wait_healthy(timeout=60)

            ready = httpx.get(f"{first.base_url}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready"}
            printed = re.search(r"API key for ada[^:]*: (\S+)", first.output)
            assert printed, first.output
            ada_key = printed[1]
            assert KEY.match(ada_key)
            data = first.graphql(ada_key)
            assert data["viewer"] == {"name": "ada"}
            assert data["organization"]["registries"]["totalCount"] >= 3
            # It says how to point the wandb SDK at it, and the W&B dialect answers there.
            wandb_url = f"{first.base_url}/wandb"
            assert f"export WANDB_BASE_URL={wandb_url} WANDB_API_KEY={ada_key}" in first.output
            registries = httpx.post(
                f"{wandb_url}/graphql",
                json={
                    "query": '{ organization(name: "acme") { orgEntity { '
                    'projects(filters: "{\\"name\\": \\"wandb-registry-model\\"}") '
                    "{ edges { node { name } } } } } }"
                },
                auth=("api", ada_key),
                timeout=10,
            ).json()
            projects = registries["data"]["organization"]["orgEntity"]["projects"]
            assert projects["edges"] == [{"node": {"name": "wandb-registry-model"}}]

            # Another process joins the running embedded database while the server uses it.
            bob_key = the_key(
                cairn("keys", "create", "--user", "bob", "--data-dir", str(data_dir), env=env)
            )
            assert first.graphql(bob_key)["viewer"] == {"name": "bob"}
            # CAIRN_DATA_DIR names the same directory when --data-dir is not given.
            cy = cairn(
                "keys", "create", "--user", "cy", env={**env, "CAIRN_DATA_DIR": str(data_dir)}
            )
            assert first.graphql(the_key(cy))["viewer"] == {"name": "cy"}
            assert postgres_processes(data_dir), "the server's PostgreSQL stopped with the CLI"

            assert first.stop() == 0, first.output
            assert "Traceback" not in first.output
            assert not postgres_processes(data_dir), "embedded PostgreSQL outlived the server"

            second = Server(["--data-dir", str(data_dir)], env, logs)
            started.append(second)
            second.wait_healthy(timeout=60)
            data = second.graphql(ada_key)
            assert data["viewer"] == {"name": "ada"}
            assert data["organization"]["registries"]["totalCount"] >= 3
            assert second.graphql(bob_key)["viewer"] == {"name": "bob"}

            assert second.stop() == 0, second.output
            assert not postgres_processes(data_dir), "embedded PostgreSQL outlived the server"
    finally:
        stop_embedded(data_dir)


def test_an_operator_creates_an_organization_and_its_first_admin(
    url_env: dict[str, str], tmp_path: Path
) -> None:
    """`cairn orgs create` makes the organization with its core registries and its first admin,
    and prints the admin's key; the server, run with JSON logs, logs each request with its id."""
    assert cairn("migrate", env=url_env).returncode == 0
    created = cairn("orgs", "create", "newco", "--admin", "neo", env=url_env)
    key = the_key(created)
    assert "created organization newco with admin neo" in created.stderr
    again = cairn("orgs", "create", "newco", "--admin", "neo", env=url_env)
    assert again.returncode == 1
    assert "organization 'newco' already exists" in again.stderr
    bad = cairn("orgs", "create", "new/co", "--admin", "neo", env=url_env)
    assert bad.returncode == 1
    assert "organization name 'new/co'" in bad.stderr

    with killed_at_exit() as started:
        server = Server([], {**url_env, "CAIRN_LOG_FORMAT": "json"}, tmp_path)
        started.append(server)
        server.wait_healthy()
        response = httpx.post(
            f"{server.base_url}/graphql",
            json={
                "query": """query Mine { viewer { name } organization(name: "newco") {
                  viewerRole registries { nodes { name } } history { nodes { action } } } }""",
                "operationName": "Mine",
            },
            headers={"Authorization": f"Bearer {key}", "X-Request-Id": "operator-check-1"},
            timeout=10,
        )
        data = response.json()["data"]
        assert data["viewer"] == {"name": "neo"}
        assert data["organization"]["viewerRole"] == "ADMIN"
        assert sorted(r["name"] for r in data["organization"]["registries"]["nodes"]) == [
            "dataset",
            "model",
        ]
        assert "ADD_ORGANIZATION_MEMBER" in {
            e["action"] for e in data["organization"]["history"]["nodes"]
        }
        assert server.stop() == 0
    lines = [json.loads(line) for line in server.output.splitlines() if line.startswith("{")]
    (access,) = [e for e in lines if e.get("request_id") == "operator-check-1"]
    assert access["logger"] == "cairn.access"
    assert access["message"].startswith("POST /graphql 200 ")
    assert access["message"].endswith(" Mine")
    assert {"time", "level"} <= set(access)


@pytest.mark.parametrize("part_bytes", ["100", str(6 * 2**30)])
def test_a_part_size_out_of_range_stops_the_server_naming_it(
    url_env: dict[str, str], part_bytes: str
) -> None:
    assert cairn("migrate", env=url_env).returncode == 0
    result = cairn("serve", "--port", "1", env={**url_env, "CAIRN_UPLOAD_PART_BYTES": part_bytes})
    assert result.returncode == 1
    assert f"CAIRN_UPLOAD_PART_BYTES={part_bytes} is out of range" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_storage_backend_stops_the_server_naming_it(url_env: dict[str, str]) -> None:
    assert cairn("migrate", env=url_env).returncode == 0
    result = cairn("serve", "--port", "1", env={**url_env, "CAIRN_STORAGE": "gopher://blobs"})
    assert result.returncode == 1
    assert "CAIRN_STORAGE='gopher://blobs' names no storage Cairn has" in result.stderr
    assert "Traceback" not in result.stderr
