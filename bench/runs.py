"""Cairn's run benchmark (the wandb SDK's run path): the file stream, `upsertBucket` and logging
an artifact, through the W&B dialect over HTTP.

    python -m bench.runs            # or: python bench/runs.py
    python -m bench.runs --help

It seeds the dataset of `bench.run` (see bench/README.md), gives each of its finished runs
`--finished-history` history lines, and makes `--live-runs` running runs in the project
`acme/live`, each with `--live-history` lines streamed already. Against the real server
(uvicorn, one process) it measures, at each concurrency, for a fixed time, requests sent as the
wandb SDK sends them (its own GraphQL documents, the key as HTTP Basic `api:<key>`), each to the
next running run in turn:

- `stream`: a file-stream POST with the run's next history line and its whole summary, what a
  live run sends every few seconds;
- `upsert`: `upsertBucket` with the run's config and summary, as the SDK sends it when a run
  starts and when it finishes;
- `log-artifact`: one artifact logged the SDK's way, a new small file each time, measured as one
  iteration of six HTTP requests: `createArtifact`, `createArtifactFiles`, the file's PUT,
  `createArtifactManifest`, the manifest's PUT and `commitArtifact`.

Statements per iteration are counted in process (asyncpg's query logger) over several
iterations. The logged files go to a temporary folder, removed at the end. Results go into the
`runs` key of bench/results.json; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/runs.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from bench import options  # noqa: E402
from bench.database import benchmark_database, count_rows, migrated  # noqa: E402
from bench.load import LoadResult, drive_each, warn_of_failures  # noqa: E402
from bench.report import (  # noqa: E402
    Column,
    load_table,
    machine,
    run_benchmark,
    server_and_client,
)
from bench.scenario import (  # noqa: E402
    Scenario,
    Send,
    choose,
    custom_scenario,
    failed,
    graphql_request,
)
from bench.seed import ORGANIZATION, TABLES, seed  # noqa: E402
from bench.server import serving  # noqa: E402
from bench.statements import count_statements, print_counts  # noqa: E402
from db.accounts import user_by_name  # noqa: E402
from db.pool import Connection  # noqa: E402
from db.runs import RunDetails, upsert_run  # noqa: E402
from resolvers.runs import HISTORY_FILE, SUMMARY_FILE, create_project_txn  # noqa: E402
from server.app import WANDB_GRAPHQL  # noqa: E402

LIVE_PROJECT = "live"
CHECKPOINT = "model.ckpt"
CHECKPOINT_BYTES = 4096  # a small file, as a run logs one now and then
# Counted on top of the registry dataset's tables, before and after the load.
RUN_TABLES = ("organizations", "projects", "run_history", "artifact_uploads", "blobs")

# The wandb SDK's own documents (wandb 0.31's `wandb-core`): its fields and variables, laid out
# here.
UPSERT_BUCKET = """mutation UpsertBucket($id: String, $name: String, $project: String,
    $entity: String, $groupName: String, $description: String, $displayName: String,
    $notes: String, $commit: String, $config: JSONString, $host: String, $debug: Boolean,
    $program: String, $repo: String, $jobType: String, $state: String, $sweep: String,
    $tags: [String!], $summaryMetrics: JSONString) {
  upsertBucket(input: {id: $id, name: $name, groupName: $groupName, modelName: $project,
      entityName: $entity, description: $description, displayName: $displayName, notes: $notes,
      config: $config, commit: $commit, host: $host, debug: $debug, jobProgram: $program,
      jobRepo: $repo, jobType: $jobType, state: $state, sweep: $sweep, tags: $tags,
      summaryMetrics: $summaryMetrics}) {
    bucket { id name displayName description config sweepName
      project { id name entity { id name } } historyLineCount }
    inserted } }"""

CREATE_ARTIFACT = """mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) { ...CreatedArtifact } }
fragment CreatedArtifact on CreateArtifactPayload {
  artifact { id state artifactSequence { latestArtifact { id } } } }"""

CREATE_ARTIFACT_FILES = """mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) {
  createArtifactFiles(input: $input) { files { edges { node {
    storagePath uploadUrl uploadHeaders
    uploadMultipartUrls { uploadID uploadUrlParts { partNumber uploadUrl } }
    artifact { id } } } } } }"""

CREATE_ARTIFACT_MANIFEST = """mutation CreateArtifactManifest($artifactID: ID!,
    $baseArtifactID: ID, $name: String!, $digest: String!, $entityName: String!,
    $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!,
    $includeUpload: Boolean!) {
  createArtifactManifest(input: {artifactID: $artifactID, baseArtifactID: $baseArtifactID,
      name: $name, digest: $digest, entityName: $entityName, projectName: $projectName,
      runName: $runName, type: $manifestType}) {
    artifactManifest { id file { id uploadUrl @include(if: $includeUpload)
      uploadHeaders @include(if: $includeUpload) } } } }"""

COMMIT_ARTIFACT = """mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) { artifact { id digest } } }"""

# History lines for every run of the organization, with the keys `metrics` gives a line: `$2`
# for each running run (what it streamed so far), `$3` for each finished one.
INSERT_HISTORY = """
INSERT INTO run_history (run_id, line, row)
SELECT r.id, l, jsonb_build_object(
    '_step', l, '_runtime', round(l * 2.5, 1),
    '_timestamp', round(extract(epoch FROM r.created_at) + l * 2.5, 3),
    'loss', round(2.0 / (l + 2), 5), 'accuracy', round(1 - 1.0 / (l + 2), 5),
    'lr', 0.001, 'epoch', l / 100)
FROM runs r JOIN projects p ON p.id = r.project_id
CROSS JOIN LATERAL generate_series(0, CASE WHEN r.state = 'RUNNING' THEN $2::int
                                            ELSE $3::int END - 1) AS l
WHERE p.organization_id = $1
"""


# --- what a training run sends ----------------------------------------------------------------


def metrics(step: int) -> dict[str, Any]:
    """One history line: what a training run logs at `step`."""
    return {
        "_step": step,
        "_runtime": round(step * 2.5, 1),
        "_timestamp": round(time.time(), 3),
        "loss": round(2.0 / (step + 2), 5),
        "accuracy": round(1 - 1.0 / (step + 2), 5),
        "lr": 0.001,
        "epoch": step // 100,
    }


def summary_of(lines: int) -> dict[str, Any]:
    """A run's whole summary once it streamed `lines` lines: the last one's values, and the
    SDK's own bookkeeping (`_wandb`, which Cairn does not keep)."""
    last = metrics(max(lines - 1, 0))
    return {**last, "_wandb": {"runtime": int(last["_runtime"])}}


def config_values(index: int) -> dict[str, Any]:
    return {
        "lr": 0.001,
        "batch_size": 64,
        "epochs": 10,
        "optimizer": "adamw",
        "weight_decay": 0.01,
        "warmup_steps": 500,
        "dropout": 0.1,
        "architecture": "resnet50",
        "dataset": "training-data",
        "seed": index,
    }


def sdk_config(index: int) -> dict[str, Any]:
    """The run's config as the SDK sends it: `{key: {"desc": null, "value": v}}`, with its own
    bookkeeping under `_wandb`."""
    wrapped: dict[str, Any] = {
        key: {"desc": None, "value": value} for key, value in config_values(index).items()
    }
    wrapped["_wandb"] = {
        "desc": None,
        "value": {"python_version": "3.11.7", "framework": "torch", "t": {"1": [1, 55]}},
    }
    return wrapped


def manifest_digest(contents: dict[str, str]) -> str:
    """The SDK's digest of a manifest (`ArtifactManifestV1.digest`), by path and MD5."""
    hasher = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for path, md5 in sorted(contents.items()):
        hasher.update(f"{path}:{md5}\n".encode())
    return hasher.hexdigest()


# --- the dataset ------------------------------------------------------------------------------


@dataclass(slots=True)
class LiveRuns:
    """The running runs the scenarios take in turn, and the next history line of each."""

    names: list[str]
    next_line: list[int]
    turn: int = 0

    def take(self) -> int:
        """The next run in turn (its index): concurrent requests go to different runs."""
        index = self.turn % len(self.names)
        self.turn += 1
        return index


async def add_live_runs(
    conn: Connection, count: int, history: int, finished_history: int
) -> LiveRuns:
    """Makes `count` running runs in the project `live` as `upsertBucket` makes them, and gives
    every run of the organization its history lines with bulk SQL (one transaction)."""
    async with conn.transaction():
        org_id = await conn.fetchval("SELECT id FROM organizations WHERE name = $1", ORGANIZATION)
        member = await user_by_name(conn, "bench-member")
        assert member is not None
        project = await create_project_txn(conn, org_id, LIVE_PROJECT, "Runs training now.")
        names = [f"live-{i:04d}" for i in range(count)]
        for index, name in enumerate(names):
            details = RunDetails(
                config=config_values(index),
                summary=metrics(history - 1) if history else {},
                tags=["baseline"],
                job_type="train",
            )
            await upsert_run(conn, project.id, name, member.id, details)
        await conn.execute(INSERT_HISTORY, org_id, history, finished_history)
    # `historyLineCount` counts a run's lines by index only where the visibility map says so.
    await conn.execute("VACUUM ANALYZE run_history, runs")
    return LiveRuns(names, [history] * count)


@contextmanager
def blob_folder() -> Iterator[None]:
    """A temporary folder for the logged files' bytes, rather than ~/.cairn/blobs: as
    CAIRN_STORAGE of this process (whose app counts the statements) and of the server's, which
    inherits the environment."""
    before = os.environ.get("CAIRN_STORAGE")
    with tempfile.TemporaryDirectory(prefix="cairn-bench-blobs-") as folder:
        os.environ["CAIRN_STORAGE"] = Path(folder).as_uri()
        try:
            yield
        finally:
            if before is None:
                del os.environ["CAIRN_STORAGE"]
            else:
                os.environ["CAIRN_STORAGE"] = before


# --- the scenarios ----------------------------------------------------------------------------


class Refused(Exception):
    """A step of an iteration failed: its response ends the iteration."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class Sdk:
    """Sends requests as the wandb SDK sends them, with the key as HTTP Basic `api:<key>`, and
    counts them by scenario: the HTTP requests one iteration takes."""

    def __init__(self, key: str) -> None:
        self.auth = httpx.BasicAuth("api", key)
        self.requests: Counter[str] = Counter()
        self.iterations: Counter[str] = Counter()

    def scenario(self, name: str, description: str, send: Send) -> Scenario:
        async def counted(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
            self.iterations[name] += 1
            return await send(client, rng)

        return custom_scenario(name, description, counted)

    def per_iteration(self, name: str) -> float:
        return round(self.requests[name] / max(self.iterations[name], 1), 2)

    async def post(
        self, client: httpx.AsyncClient, scenario: str, path: str, body: dict[str, Any]
    ) -> httpx.Response:
        self.requests[scenario] += 1
        return await client.post(path, json=body, auth=self.auth)

    async def graphql(
        self, client: httpx.AsyncClient, scenario: str, query: str, variables: dict[str, Any]
    ) -> httpx.Response:
        return await self.post(client, scenario, WANDB_GRAPHQL, graphql_request(query, variables))

    async def data(
        self, client: httpx.AsyncClient, scenario: str, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        """The `data` of a GraphQL request of an iteration that goes on (Refused otherwise)."""
        response = await self.graphql(client, scenario, query, variables)
        if failed(response.status_code, response.content):
            raise Refused(response)
        data: dict[str, Any] = response.json()["data"]
        return data

    async def upload(
        self, client: httpx.AsyncClient, scenario: str, url: str, content: bytes
    ) -> None:
        """A PUT to a signed upload URL, which needs no key (Refused unless stored)."""
        self.requests[scenario] += 1
        response = await client.put(url, content=content)
        if response.status_code != 201:
            raise Refused(response)


def run_scenarios(live: LiveRuns, sdk: Sdk) -> dict[str, Scenario]:
    entity, project = ORGANIZATION, LIVE_PROJECT
    runs = f"the {len(live.names):,} running runs of `{entity}/{project}` in turn"

    async def stream(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        index = live.take()
        line = live.next_line[index]
        live.next_line[index] = line + 1
        body = {
            "files": {
                HISTORY_FILE: {"offset": line, "content": [json.dumps(metrics(line))]},
                SUMMARY_FILE: {"offset": 0, "content": [json.dumps(summary_of(line + 1))]},
            }
        }
        path = f"/wandb/files/{entity}/{project}/{live.names[index]}/file_stream"
        return await sdk.post(client, "stream", path, body)

    async def upsert(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        index = live.take()
        variables = {
            "name": live.names[index],
            "project": project,
            "entity": entity,
            "displayName": f"baseline-{index}",
            "config": json.dumps(sdk_config(index)),
            "summaryMetrics": json.dumps(summary_of(live.next_line[index])),
            "tags": ["baseline"],
            "jobType": "train",
            "host": "gpu-node-07",
            "program": "train.py",
        }
        return await sdk.graphql(client, "upsert", UPSERT_BUCKET, variables)

    async def log_artifact(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        try:
            return await log_artifact_steps(client, rng)
        except Refused as refused:
            return refused.response

    async def log_artifact_steps(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        index = live.take()
        run = live.names[index]
        name = f"model-{run}"  # the SDK's name for a run's checkpoints
        scenario = "log-artifact"
        # New bytes each time (the turn is never repeated), so that each file is uploaded.
        header = f"{run} checkpoint {live.turn}\n".encode()
        content = header + rng.randbytes(CHECKPOINT_BYTES - len(header))
        md5 = base64.b64encode(hashlib.md5(content).digest()).decode()
        digest = manifest_digest({CHECKPOINT: md5})
        created = await sdk.data(
            client,
            scenario,
            CREATE_ARTIFACT,
            {
                "input": {
                    "entityName": entity,
                    "projectName": project,
                    "runName": run,
                    "artifactTypeName": "model",
                    "artifactCollectionName": name,
                    "digest": digest,
                    "digestAlgorithm": "MANIFEST_MD5",
                    "metadata": json.dumps({"step": live.next_line[index]}),
                    "aliases": [{"alias": "latest", "artifactCollectionName": name}],
                    "clientID": uuid.uuid4().hex,
                    "sequenceClientID": uuid.uuid4().hex,
                    "enableDigestDeduplication": True,
                }
            },
        )
        artifact_id = created["createArtifact"]["artifact"]["id"]
        files = await sdk.data(
            client,
            scenario,
            CREATE_ARTIFACT_FILES,
            {
                "input": {
                    "artifactFiles": [{"artifactID": artifact_id, "name": CHECKPOINT, "md5": md5}],
                    "storageLayout": "V2",
                }
            },
        )
        [edge] = files["createArtifactFiles"]["files"]["edges"]
        if edge["node"]["uploadUrl"] is not None:  # null: the organization holds the bytes
            await sdk.upload(client, scenario, edge["node"]["uploadUrl"], content)
        manifest = await sdk.data(
            client,
            scenario,
            CREATE_ARTIFACT_MANIFEST,
            {
                "artifactID": artifact_id,
                "baseArtifactID": None,
                "name": "wandb_manifest.json",
                "digest": digest,
                "entityName": entity,
                "projectName": project,
                "runName": run,
                "manifestType": "FULL",
                "includeUpload": True,
            },
        )
        manifest_json = {
            "version": 1,
            "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"},
            "contents": {CHECKPOINT: {"digest": md5, "size": len(content)}},
        }
        await sdk.upload(
            client,
            scenario,
            manifest["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"],
            json.dumps(manifest_json).encode(),
        )
        return await sdk.graphql(client, scenario, COMMIT_ARTIFACT, {"artifactID": artifact_id})

    found = [
        sdk.scenario(
            "stream",
            f"POST /wandb/files/{entity}/{project}/<run>/file_stream of {runs}: the run's next "
            "history line (at its offset, a new line) and its whole summary, what a live run's "
            "SDK sends every few seconds",
            stream,
        ),
        sdk.scenario(
            "upsert",
            f"the SDK's `upsertBucket` of {runs} (config, summaryMetrics, tags, …), asking for "
            "what the SDK asks (the run, its project and entity, `historyLineCount`), as it "
            "does when a run starts and finishes",
            upsert,
        ),
        sdk.scenario(
            "log-artifact",
            f"one artifact logged the SDK's way: `model-<run>` of {runs}, a new "
            f"{CHECKPOINT_BYTES:,}-byte file each time: createArtifact, createArtifactFiles, "
            "PUT the file, createArtifactManifest, PUT the manifest, commitArtifact (one "
            "iteration, timed whole)",
            log_artifact,
        ),
    ]
    return {s.name: s for s in found}


def http_requests_column(sdk: Sdk) -> Column:
    """The table's column more: the HTTP requests one iteration sends."""
    return "HTTP requests/iteration", lambda r: f"{sdk.per_iteration(r.scenario):g}"


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = options.parser(
        "python -m bench.runs",
        "Seed a fresh database with running runs, start the Cairn server, and measure the wandb "
        "SDK's run path through the W&B dialect over HTTP: the file stream, upsertBucket and "
        "logging an artifact. The database is dropped at the end.",
    )
    options.add_shape(parser)
    parser.add_argument(
        "--live-runs",
        type=int,
        default=100,
        help="running runs in `acme/live`, which the scenarios take in turn (default: %(default)s)",
    )
    parser.add_argument(
        "--live-history",
        type=int,
        default=1000,
        help="history lines each running run has streamed before the load (default: %(default)s)",
    )
    parser.add_argument(
        "--finished-history",
        type=int,
        default=100,
        help="history lines of each finished run of the registry dataset (default: %(default)s)",
    )
    options.add_load(parser, concurrency="1,10")
    parser.add_argument(
        "--scenarios",
        default="stream,upsert,log-artifact",
        help="comma-separated scenarios (default: %(default)s)",
    )
    options.add_server(parser)
    options.add_output(parser, explain=False)
    args = parser.parse_args(argv)
    options.check_shape(parser, args)
    if args.live_runs < 1:
        parser.error("--live-runs must be at least 1")
    if min(args.live_history, args.finished_history) < 0:
        parser.error("--live-history and --finished-history must be at least 0")
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    shape = options.shape(args)
    tables = (*TABLES, *RUN_TABLES)
    with blob_folder():
        async with benchmark_database(args.database_url, keep=args.keep_database) as database:
            async with migrated(database.url) as conn:
                seeded = await seed(conn, shape)
                started = time.perf_counter()
                live = await add_live_runs(
                    conn, args.live_runs, args.live_history, args.finished_history
                )
                live_seconds = time.perf_counter() - started
                rows = await count_rows(conn, tables)
            print(
                f"seeded in {seeded.seconds:.1f} s + {args.live_runs:,} running runs and "
                f"{rows['run_history']:,} history lines in {live_seconds:.1f} s: {rows}",
                flush=True,
            )
            sdk = Sdk(seeded.member_key)
            chosen = choose(run_scenarios(live, sdk), args.scenarios)
            counts = await count_statements(database.url, seeded.member_key, chosen, repeats=3)
            print_counts(counts)
            print(
                "HTTP requests/iteration: "
                + ", ".join(f"{s.name} {sdk.per_iteration(s.name):g}" for s in chosen),
                flush=True,
            )

            results: list[LoadResult] = []
            async with serving(database.url, args.pool_size) as server:
                for scenario in chosen:
                    results += await drive_each(
                        server,
                        database,
                        scenario,
                        seeded.member_key,
                        args.concurrency,
                        duration=args.duration,
                        warmup=args.warmup,
                    )
                warn_of_failures(results, server)
            check_conn = await asyncpg.connect(database.url)
            try:
                after_rows = await count_rows(check_conn, tables)
            finally:
                await check_conn.close()
            return {
                "machine": machine(database.postgres_version),
                "dataset": {
                    **asdict(shape),
                    "registry_versions": shape.registry_versions,
                    "live_runs": args.live_runs,
                    "live_history_lines_per_run": args.live_history,
                    "finished_history_lines_per_run": args.finished_history,
                    "seeding_seconds": round(seeded.seconds + live_seconds, 2),
                    "rows_before": rows,
                    "rows_after": after_rows,
                },
                "settings": {
                    "duration_seconds": args.duration,
                    "warmup_seconds": args.warmup,
                    **server_and_client(args.pool_size),
                    "user": "bench-member (organization MEMBER), its key as HTTP Basic api:<key>",
                },
                "statements": {name: c.as_json() for name, c in counts.items()},
                "http_requests_per_iteration": {s.name: sdk.per_iteration(s.name) for s in chosen},
                "scenarios": {s.name: s.description for s in chosen},
                "results": [asdict(r) for r in results],
                "markdown": load_table(results, counts, chosen, extra=http_requests_column(sdk)),
            }


def dataset_line(d: dict[str, Any]) -> str:
    rows = d["rows_before"]
    return (
        f"Dataset: {rows['organizations']} organization, {rows['runs']:,} runs: "
        f"{d['live_runs']:,} running in `{ORGANIZATION}/{LIVE_PROJECT}` with "
        f"{d['live_history_lines_per_run']:,} history lines each, the others finished with "
        f"{d['finished_history_lines_per_run']:,} each ({rows['run_history']:,} history lines "
        f"in all); the registry dataset of bench.run ({d['registry_versions']:,} registry "
        f"versions, {rows['artifact_versions']:,} versions in all)."
    )


def main(argv: list[str] | None = None) -> None:
    run_benchmark(
        run, parse_args(argv), title="Cairn run benchmark", dataset=dataset_line, key="runs"
    )


if __name__ == "__main__":
    main()
