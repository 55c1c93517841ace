"""`cairn push` and `cairn pull` as a person or a CI job runs them, against a live server: files
go up once, come back byte for byte, a retried pull resumes, the demo's production model can be
pulled, and plain `curl` downloads with no auth header."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from db.blobs import BlobStore
from db.pool import create_pool
from resolvers.collector import collect
from server.demo import demo_entries, demo_file
from tests.support.databases import new_database
from tests.support.processes import Server, cairn, cairn_env, killed_at_exit, the_key


@pytest.fixture(scope="module")
async def demo_url(server_url: str) -> AsyncIterator[str]:
    async with new_database(server_url, demo=True) as url:
        yield url


@pytest.fixture(scope="module")
def live(
    demo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server on a demo database, and the environment of a client with ada's key."""
    env = cairn_env(tmp_path_factory.mktemp("xdg-runtime"), DATABASE_URL=demo_url)
    key = the_key(cairn("keys", "create", "--user", "ada", "--org", "acme", env=env))
    with killed_at_exit() as started:
        # Files over 1 MiB go up in parts of 1 MiB.
        server = Server(
            [], {**env, "CAIRN_UPLOAD_PART_BYTES": str(MIB)}, tmp_path_factory.mktemp("logs")
        )
        started.append(server)
        server.wait_healthy()
        client_env = {k: v for k, v in env.items() if k != "DATABASE_URL"}
        yield server, {**client_env, "CAIRN_URL": server.base_url, "CAIRN_API_KEY": key}
        server.stop()


MIB = 2**20


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def model_folder(root: Path) -> dict[str, bytes]:
    contents = {
        "weights.safetensors": os.urandom(3 * 1024 * 1024 + 17),
        "config/model.json": b'{"layers": 12}\n',
        "config/empty.txt": b"",
        "tokenizer/vocab.txt": "\n".join(f"token-{i}" for i in range(2000)).encode(),
    }
    for path, data in contents.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return contents


def test_push_then_pull_byte_for_byte_and_nothing_twice(
    live: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    server, env = live
    contents = model_folder(tmp_path / "model")
    pushed = cairn(
        "push",
        str(tmp_path / "model"),
        "acme/churn/pushed-model",
        "--type",
        "model",
        "--link",
        "acme/wandb-registry-model/pushed-model",
        "--alias",
        "candidate",
        "--quiet",
        env=env,
    )
    assert pushed.returncode == 0, pushed.stderr
    sent = sum(len(data) for data in contents.values())
    assert (
        f"logged acme/churn/pushed-model:v0 (4 files sent, 0 already stored; {sent} bytes sent)"
        in pushed.stdout
    )
    assert "linked acme/wandb-registry-model/pushed-model:v0 [candidate, latest]" in pushed.stdout
    # Again: the same version, and no bytes sent.
    again = cairn(
        "push", str(tmp_path / "model"), "acme/churn/pushed-model", "--type", "model", env=env
    )
    assert again.returncode == 0, again.stderr
    assert (
        "logged acme/churn/pushed-model:v0 (0 files sent, 4 already stored; 0 bytes sent)"
        in again.stdout
    )

    out = tmp_path / "out"
    pulled = cairn("pull", "acme/wandb-registry-model/pushed-model:candidate", str(out), env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert "4 files fetched, 0 already there" in pulled.stdout
    assert tree(out) == contents
    # A pull cut off halfway: the next one fetches only the rest of the broken file.
    weights = out / "weights.safetensors"
    weights.rename(out / "weights.safetensors.part")
    with (out / "weights.safetensors.part").open("r+b") as handle:
        handle.truncate(1_000_000)
    resumed = cairn("pull", "acme/wandb-registry-model/pushed-model:v0", str(out), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "1 files fetched, 3 already there" in resumed.stdout
    assert tree(out) == contents
    assert server.process.poll() is None


def test_the_demo_production_model_can_be_pulled(
    live: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    _, env = live
    pulled = cairn(
        "pull", "acme/wandb-registry-model/churn-classifier:production", str(tmp_path), env=env
    )
    assert pulled.returncode == 0, pulled.stderr
    # The demo gives `production` to the eighth model (v7), logged from seed churn-7.
    manifest = demo_entries("model.pkl", "requirements.txt", seed="churn-7")
    assert tree(tmp_path) == {e.path: demo_file(e.path, "churn-7") for e in manifest}
    assert all(hashlib.sha256(tree(tmp_path)[e.path]).hexdigest() == e.digest for e in manifest)


def test_curl_downloads_with_no_auth_header(
    live: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    server, env = live
    files = httpx.post(
        f"{server.base_url}/graphql",
        json={
            "query": """{ artifactVersion(path: "acme/wandb-registry-model/churn-classifier:v3") {
              files { nodes { path downloadUrl } } } }"""
        },
        headers={"Authorization": f"Bearer {env['CAIRN_API_KEY']}"},
        timeout=10,
    ).json()["data"]["artifactVersion"]["files"]["nodes"]
    pickle = next(f for f in files if f["path"] == "model.pkl")
    target = tmp_path / "model.pkl"
    subprocess.run(["curl", "-sSf", "-o", str(target), pickle["downloadUrl"]], check=True)
    assert target.read_bytes() == demo_file("model.pkl", "churn-3")
    piece = subprocess.run(
        ["curl", "-sSf", "-r", "10-19", pickle["downloadUrl"]], check=True, capture_output=True
    )
    assert piece.stdout == demo_file("model.pkl", "churn-3")[10:20]


def test_clear_errors(live: tuple[Server, dict[str, str]], tmp_path: Path) -> None:
    _, env = live
    (tmp_path / "empty").mkdir()
    cases = [
        (
            ("push", str(tmp_path / "empty"), "acme/churn/x", "--type", "model"),
            env,
            "holds no files",
        ),
        (
            ("push", str(tmp_path / "nowhere"), "acme/churn/x", "--type", "model"),
            env,
            "is not a folder",
        ),
        (
            ("push", str(tmp_path / "empty"), "acme/x", "--type", "model"),
            env,
            "is not a project path: give organization/project/artifact-name",
        ),
        (("pull", "acme/wandb-registry-model/no-such:v0", str(tmp_path)), env, "not found"),
        (
            ("pull", "acme/wandb-registry-model/churn-classifier:v0", str(tmp_path)),
            {**env, "CAIRN_API_KEY": "cairn_" + "A" * 43},
            "the API key was refused",
        ),
        (
            ("pull", "acme/wandb-registry-model/churn-classifier:v0", str(tmp_path)),
            {**env, "CAIRN_URL": "http://127.0.0.1:9"},
            "cannot reach Cairn at http://127.0.0.1:9/graphql",
        ),
    ]
    for args, case_env, says in cases:
        result = cairn(*args, env=case_env)
        assert result.returncode == 1, (args, result.stdout)
        assert says in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_many_small_files_travel_in_archives(
    live: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    """Past a few small files, push sends them as tar archives to the batch URL and a fresh
    pull fetches the version's archive: the same bytes as one request per file."""
    _, env = live
    source = tmp_path / "shards"
    contents = {f"shard-{i // 10}/part-{i:03d}.bin": os.urandom(1000 + i) for i in range(60)}
    for path, data in contents.items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_bytes(data)
    server, _ = live
    before = transfer_counts(server)
    pushed = cairn("push", str(source), "acme/churn/shards", "--type", "dataset", env=env)
    assert pushed.returncode == 0, pushed.stderr
    sent = sum(map(len, contents.values()))
    assert f"(60 files sent, 0 already stored; {sent} bytes sent)" in pushed.stdout
    pulled = cairn("pull", "acme/churn/shards:v0", str(tmp_path / "out"), env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert "60 files fetched" in pulled.stdout
    assert tree(tmp_path / "out") == contents
    after = transfer_counts(server)
    # One archive per job up (8), one archive down; no request per file either way.
    assert after["batch", "201"] - before.get(("batch", "201"), 0) == 8
    assert after["content", "200"] - before.get(("content", "200"), 0) == 1
    for unused in (("upload", "201"), ("download", "200")):
        assert after.get(unused, 0) == before.get(unused, 0)


def test_a_store_without_room_refuses_the_bytes_and_keeps_serving(
    live: tuple[Server, dict[str, str]], demo_url: str, tmp_path: Path
) -> None:
    """A server whose files may not grow past 4 MB (the kernel's RLIMIT_FSIZE: writes past it
    fail as on a full disk): an 8 MB file is refused with 507, naming the cause, and nothing of
    it stays; smaller files still go in."""
    _, env = live
    store = tmp_path / "store"
    server_env = {**env, "DATABASE_URL": demo_url, "CAIRN_STORAGE": f"file://{store}"}
    server_env.pop("CAIRN_UPLOAD_PART_BYTES", None)
    with killed_at_exit() as started:
        full = Server(["--no-worker"], server_env, tmp_path / "logs", max_file_bytes=4_000_000)
        started.append(full)
        full.wait_healthy()
        client_env = {**env, "CAIRN_URL": full.base_url}
        (tmp_path / "big").mkdir()
        (tmp_path / "big" / "weights.bin").write_bytes(os.urandom(8_000_000))
        refused = cairn(
            "push", str(tmp_path / "big"), "acme/churn/too-big", "--type", "model", env=client_env
        )
        assert refused.returncode == 1
        assert "the blob store has no room for these bytes; nothing was kept" in refused.stderr
        assert list((store / "incoming").iterdir()) == []
        assert not (store / "sha256").exists()
        (tmp_path / "small").mkdir()
        (tmp_path / "small" / "config.json").write_bytes(b"{}")
        fits = cairn(
            "push", str(tmp_path / "small"), "acme/churn/fits", "--type", "model", env=client_env
        )
        assert fits.returncode == 0, fits.stderr
        assert full.process.poll() is None
        assert full.stop() == 0


def transfer_counts(server: Server) -> dict[tuple[str, str], float]:
    """The server's transfer requests so far, by route and status, from /metrics."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    counts = {}
    for line in text.splitlines():
        match = re.fullmatch(
            r'cairn_transfer_requests_total\{route="(\w+)",status="(\d+)"\} (\S+)', line
        )
        if match:
            counts[match[1], match[2]] = float(match[3])
    return counts


def test_a_push_cut_off_sends_only_the_parts_still_missing(
    live: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    """A first push died after three of six parts arrived, and with a fourth cut off halfway:
    the cut part is not kept, and the next push sends the other three only."""
    server, env = live
    data = os.urandom(5 * MIB + 3)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(data)
    entry = {"path": "weights.bin", "digest": hashlib.sha256(data).hexdigest(), "size": len(data)}
    graphql = httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {env['CAIRN_API_KEY']}"},
        timeout=30,
    )
    project = graphql.post(
        "/graphql",
        json={"query": '{ organization(name: "acme") { project(name: "churn") { id } } }'},
    ).json()["data"]["organization"]["project"]["id"]
    prepare = """mutation($input: PrepareArtifactFilesInput!) { prepareArtifactFiles(input: $input)
      { uploads { parts { offset size stored uploadUrl } } } }"""

    def parts() -> list[dict[str, Any]]:
        answer = graphql.post(
            "/graphql",
            json={
                "query": prepare,
                "variables": {"input": {"projectId": project, "files": [entry]}},
            },
        ).json()
        found: list[dict[str, Any]] = answer["data"]["prepareArtifactFiles"]["uploads"][0]["parts"]
        return found

    first = parts()
    assert len(first) == 6
    for part in first[:3]:
        body = data[part["offset"] : part["offset"] + part["size"]]
        assert httpx.put(part["uploadUrl"], content=body, timeout=30).status_code == 201
    # Part 4: the headers promise a whole part, half of it arrives, the connection drops.
    with cut_off_put(first[3]["uploadUrl"], MIB, data[3 * MIB : 3 * MIB + MIB // 2]):
        pass
    assert [p["stored"] for p in parts()] == [True, True, True, False, False, False]

    push_and_pull_back(tmp_path, "acme/churn/resumed", env, sent=2 * MIB + 3)


def test_a_server_killed_mid_upload_leaves_nothing_a_client_can_see(
    live: tuple[Server, dict[str, str]], demo_url: str, tmp_path: Path
) -> None:
    """The server dies (SIGKILL) while a part is arriving: after a restart the part is not
    there, the version cannot be logged, what was written is collected, and a push then
    sends the file whole."""
    _, env = live
    store = tmp_path / "store"
    server_env = {
        **env,
        "DATABASE_URL": demo_url,
        "CAIRN_STORAGE": f"file://{store}",
        "CAIRN_UPLOAD_PART_BYTES": str(2 * MIB),
    }
    data = os.urandom(6 * MIB)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(data)
    entry = {"path": "weights.bin", "digest": hashlib.sha256(data).hexdigest(), "size": len(data)}
    headers = {"Authorization": f"Bearer {env['CAIRN_API_KEY']}"}

    def graphql(server: Server, query: str, **variables: Any) -> Any:
        answer = httpx.post(
            f"{server.base_url}/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=30,
        ).json()
        return answer["data"]

    project_query = '{ organization(name: "acme") { project(name: "churn") { id } } }'
    prepare = """mutation($input: PrepareArtifactFilesInput!) { prepareArtifactFiles(input: $input)
      { uploads { parts { stored uploadUrl } } } }"""
    log = """mutation($input: LogArtifactInput!) { logArtifact(input: $input)
      { errors { code message } } }"""
    with killed_at_exit() as started:
        first = Server(["--no-worker"], server_env, tmp_path / "logs-first")
        started.append(first)
        first.wait_healthy()
        project = graphql(first, project_query)["organization"]["project"]["id"]
        files = {"projectId": project, "files": [entry]}
        parts = graphql(first, prepare, input=files)["prepareArtifactFiles"]["uploads"][0]["parts"]
        upload_id = urlsplit(parts[0]["uploadUrl"]).path.split("/")[3]
        written = store / "incoming" / "parts" / upload_id / "data"
        with cut_off_put(parts[0]["uploadUrl"], 2 * MIB, data[: 3 * MIB // 2]):
            deadline = time.monotonic() + 10
            while not (written.exists() and written.stat().st_size > 0):
                assert time.monotonic() < deadline, "the server never wrote any of the part"
                time.sleep(0.02)
            first.process.kill()
            first.process.wait(timeout=10)

        second = Server(["--no-worker"], server_env, tmp_path / "logs-second")
        started.append(second)
        second.wait_healthy()
        again = graphql(second, prepare, input=files)["prepareArtifactFiles"]["uploads"][0]
        assert [p["stored"] for p in again["parts"]] == [False, False, False]
        refused = graphql(second, log, input={**files, "name": "killed", "type": "model"})[
            "logArtifact"
        ]["errors"]
        assert [e["code"] for e in refused] == ["FILES_NOT_STORED"]
        assert "'weights.bin'" in refused[0]["message"]
        assert not (store / "sha256").exists()

        # What the killed server wrote is an upload left behind, collected once idle.
        collected = asyncio.run(collect_staged(demo_url, store))
        assert collected >= 1
        assert [p for p in (store / "incoming").rglob("*") if p.is_file()] == []

        client_env = {**env, "CAIRN_URL": second.base_url}
        push_and_pull_back(tmp_path, "acme/churn/killed", client_env, sent=6 * MIB)
        assert second.stop() == 0


async def collect_staged(database_url: str, store: Path) -> int:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        blobs = BlobStore.from_setting(f"file://{store}", store)
        found = await collect(pool, blobs, timedelta(days=1), staged_idle=timedelta(0))
        return found.staged
    finally:
        await pool.close()


@contextmanager
def cut_off_put(url: str, length: int, sent: bytes) -> Iterator[None]:
    """A PUT whose headers promise `length` bytes, of which only `sent` arrive before the
    connection drops (at the end of the block)."""
    target = urlsplit(url)
    with socket.create_connection((target.hostname, target.port), timeout=10) as raw:
        raw.sendall(
            f"PUT {target.path}?{target.query} HTTP/1.1\r\nHost: {target.netloc}\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
            + sent
        )
        yield


def push_and_pull_back(tmp_path: Path, target: str, env: dict[str, str], *, sent: int) -> None:
    """`cairn push` of tmp_path/model (one file, weights.bin) sends `sent` bytes, and `cairn
    pull` brings the same bytes back."""
    pushed = cairn("push", str(tmp_path / "model"), target, "--type", "model", env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert f"(1 files sent, 0 already stored; {sent} bytes sent)" in pushed.stdout
    pulled = cairn("pull", f"{target}:v0", str(tmp_path / "out"), env=env)
    assert pulled.returncode == 0, pulled.stderr
    data = (tmp_path / "model" / "weights.bin").read_bytes()
    assert (tmp_path / "out" / "weights.bin").read_bytes() == data


def test_a_push_in_parts_that_fails_says_that_trying_again_resumes(
    live: tuple[Server, dict[str, str]], demo_url: str, tmp_path: Path
) -> None:
    """A store that takes files of up to 4 MB: a 6 MiB file in 1 MiB parts gets its first
    parts in, the rest refused for want of room, and the push says what a retry will do."""
    _, env = live
    store = tmp_path / "store"
    server_env = {
        **env,
        "DATABASE_URL": demo_url,
        "CAIRN_STORAGE": f"file://{store}",
        "CAIRN_UPLOAD_PART_BYTES": str(MIB),
    }
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(os.urandom(6 * MIB))
    with killed_at_exit() as started:
        full = Server(["--no-worker"], server_env, tmp_path / "logs", max_file_bytes=4_000_000)
        started.append(full)
        full.wait_healthy()
        client_env = {**env, "CAIRN_URL": full.base_url}
        refused = cairn(
            "push",
            str(tmp_path / "model"),
            "acme/churn/no-room",
            "--type",
            "model",
            env=client_env,
        )
        assert refused.returncode == 1
        assert "the blob store has no room for these bytes" in refused.stderr
        assert "the same push again sends only the others" in refused.stderr
        markers = [p.name for p in (store / "incoming" / "parts").rglob("0000[0-9]")]
        assert markers, "no part was kept"
        assert full.stop() == 0
