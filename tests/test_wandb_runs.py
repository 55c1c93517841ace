"""The run path of the real `wandb` SDK against a live Cairn server: `wandb.init`, `run.log`,
`log_artifact`, `use_artifact`, `link_artifact` and `finish`, including the documentation's
quickstart verbatim, each checked through Cairn's own API afterwards.

Every SDK run is a fresh Python process with only `WANDB_BASE_URL` and `WANDB_API_KEY` set,
as a user's script would be."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import re
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests.support.processes import cairn
from tests.support.quickstart import EXAMPLE, TEMPLATE, filled
from tests.support.wandb_sdk import Cairn, live_cairn, run_sdk_script

ORG = "acme"


@pytest.fixture(scope="module")
async def live(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cairn]:
    async with live_cairn(server_url, tmp_path_factory, "wandb-runs") as started:
        yield started


def sdk(live: Cairn, script: str, cwd: Path, user: str = "ada", **env: str) -> str:
    """Runs `script` as `user` with only the two variables a W&B user changes."""
    variables = {"WANDB_BASE_URL": live.base_url, "WANDB_API_KEY": live.keys[user], **env}
    return run_sdk_script(script, variables, cwd, timeout=180)


def sdk_error(live: Cairn, script: str, cwd: Path, user: str = "ada") -> str:
    """Runs `script`, which catches the SDK's exception and prints it."""
    wrapped = "try:\n" + "".join(f"    {line}\n" for line in script.splitlines())
    wrapped += "except Exception as error:\n    print('ERROR', type(error).__name__, error)\n"
    printed = sdk(live, wrapped, cwd, user)
    assert "ERROR" in printed, printed
    return printed


def sql(live: Cairn, statement: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(live.env["DATABASE_URL"])
        try:
            return await conn.fetch(statement, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


VERSION = """query($path: String!) { artifactVersion(path: $path) {
  id versionIndex digest aliases metadata description
  collection { name }
  createdBy { id name state project { name } }
  usedBy(first: 20) { nodes { name } }
  files(first: 100) { nodes { path size digest reference downloadUrl } } } }"""

RUN = """query($id: ID!) { node(id: $id) { ... on Run {
  name displayName state exitCode summary config tags notes jobType heartbeatAt finishedAt
  history(first: 100) { nodes { line step values } }
  files(first: 100) { nodes { name size downloadUrl } }
  outputs(first: 10) { nodes { collection { name } versionIndex } }
  inputs(first: 10) { nodes { collection { name } versionIndex } } } } }"""


def version(live: Cairn, path: str, user: str = "ada") -> dict[str, Any]:
    found: dict[str, Any] = live.graphql(user, VERSION, path=path)["artifactVersion"]
    return found


def no_version(live: Cairn, path: str) -> None:
    """Cairn's API finds no version at `path`."""
    response = httpx.post(
        f"{live.server.base_url}/graphql",
        json={"query": VERSION, "variables": {"path": path}},
        headers={"Authorization": f"Bearer {live.keys['ada']}"},
        timeout=30,
    )
    body = response.json()
    assert body["data"]["artifactVersion"] is None, body
    assert "not found" in body["errors"][0]["message"]


def sql_run_id(live: Cairn, project: str, name: str) -> str:
    """The global ID of the run `name` (the SDK's run ID) of a project of `acme`."""
    (found,) = sql(
        live,
        "SELECT rn.id FROM runs rn JOIN projects p ON p.id = rn.project_id "
        "WHERE p.name = $1 AND rn.name = $2",
        project,
        name,
    )
    return base64.b64encode(f"Run:{found['id']}".encode()).decode()


def run_of(live: Cairn, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = live.graphql("ada", RUN, id=run_id)["node"]
    return found


def downloaded(url: str) -> bytes:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response.content


def transfers(live: Cairn, route: str) -> float:
    """How many transfers of `route` the server has answered with success."""
    text = httpx.get(f"{live.server.base_url}/metrics", timeout=10).text
    pattern = rf'^cairn_transfer_requests_total{{route="{route}",status="201"}} (\S+)$'
    found = re.search(pattern, text, re.M)
    return 0.0 if found is None else float(found.group(1))


# --- the quickstart -----------------------------------------------------------------------------


def test_the_quickstart_example_runs_verbatim(live: Cairn, tmp_path: Path) -> None:
    sdk(live, filled(EXAMPLE, organization_entity=ORG), tmp_path)
    model_bytes = (tmp_path / "my_model.txt").read_bytes()

    logged = version(live, f"{ORG}/registry_quickstart/gemma-finetuned-3twsov9e:latest")
    assert logged["versionIndex"] == 0
    assert "latest" in logged["aliases"]
    (file,) = logged["files"]["nodes"]
    assert file["path"] == "my_model.txt"
    assert file["digest"] == hashlib.sha256(model_bytes).hexdigest()
    assert downloaded(file["downloadUrl"]) == model_bytes

    linked = version(live, f"{ORG}/wandb-registry-model/registry-quickstart-collection:latest")
    assert linked["versionIndex"] == 0
    assert linked["files"]["nodes"][0]["digest"] == file["digest"]
    assert linked["createdBy"]["id"] == logged["createdBy"]["id"]

    run = run_of(live, logged["createdBy"]["id"])
    assert run["state"] == "FINISHED"
    assert run["exitCode"] == 0
    assert logged["createdBy"]["project"]["name"] == "registry_quickstart"
    accuracy = run["summary"]["acc"]
    assert 0 <= accuracy < 1
    (line,) = run["history"]["nodes"]
    assert line["step"] == 0
    assert line["values"]["acc"] == accuracy
    assert {"collection": {"name": "gemma-finetuned-3twsov9e"}, "versionIndex": 0} in run[
        "outputs"
    ]["nodes"]
    saved = {f["name"]: f for f in run["files"]["nodes"]}
    assert {"config.yaml", "requirements.txt", "wandb-summary.json"} <= set(saved)
    assert b"acc" in downloaded(saved["wandb-summary.json"]["downloadUrl"])


def test_the_template_runs_with_its_placeholders_filled(live: Cairn, tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(bytes(range(256)) * 16)
    script = filled(
        TEMPLATE,
        project_name="template-project",
        artifact="./weights.bin",
        artifact_name="template-model",
        type="model",
        organization_entity=ORG,
        registry_name="model",
        collection_name="template-collection",
    )
    # The template links `artifact`, which it never defines: the logged artifact is meant.
    script = script.replace("artifact = artifact,", "artifact = logged_artifact,")
    sdk(live, script, tmp_path)
    linked = version(live, f"{ORG}/wandb-registry-model/template-collection:latest")
    (file,) = linked["files"]["nodes"]
    assert downloaded(file["downloadUrl"]) == (tmp_path / "weights.bin").read_bytes()
    assert linked["collection"]["name"] == "template-collection"


def test_the_readme_walkthrough_runs_as_written(live: Cairn, tmp_path: Path) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("### Log runs and artifacts", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    printed = sdk(live, example, tmp_path)
    assert "linked as v" in printed
    linked = version(live, f"{ORG}/wandb-registry-model/readme-walkthrough:latest")
    assert linked["createdBy"]["project"]["name"] == "readme-walkthrough"


# --- a second run consumes what the first made --------------------------------------------------

PRODUCE = """
import wandb
run = wandb.init(project="pipeline", job_type="train")
with open("model.bin", "wb") as f:
    f.write(b"weights " * 1000)
logged = run.log_artifact("./model.bin", name="pipeline-model", type="model")
run.link_artifact(logged, "acme/wandb-registry-model/pipeline-collection", aliases=["staging"])
print("PRODUCER", run.id)
run.finish()
"""

CONSUME = """
import os, wandb
run = wandb.init(project="pipeline", job_type="eval")
artifact = run.use_artifact("acme/wandb-registry-model/pipeline-collection:staging")
folder = artifact.download(root="downloaded")
print("CONSUMER", run.id)
print("FILES", sorted(os.listdir(folder)))
run.finish()
"""


def test_a_second_run_downloads_the_same_bytes_and_lineage_joins_them(
    live: Cairn, tmp_path: Path
) -> None:
    from tests.support.webhooks import Receiver

    receiver = Receiver()
    try:
        live.watch_links("sdk-run-links", "pipeline-collection", receiver.url)
        (tmp_path / "producer").mkdir()
        produced = sdk(live, PRODUCE, tmp_path / "producer", user="bob")
        (delivered,) = receiver.wait_for(1, timeout=30)
        body = delivered.json()
        assert body["event_type"] == "LINK_ARTIFACT"
        assert body["event_author"] == "bob"
    finally:
        receiver.close()
    producer = produced.split("PRODUCER ", 1)[1].split()[0]
    consumer_dir = tmp_path / "consumer"
    consumer_dir.mkdir()
    consumed = sdk(live, CONSUME, consumer_dir)
    consumer = consumed.split("CONSUMER ", 1)[1].split()[0]
    assert "FILES ['model.bin']" in consumed
    made = (tmp_path / "producer" / "model.bin").read_bytes()
    assert (consumer_dir / "downloaded" / "model.bin").read_bytes() == made

    linked = version(live, f"{ORG}/wandb-registry-model/pipeline-collection:staging")
    assert linked["createdBy"]["name"] == producer
    assert [r["name"] for r in linked["usedBy"]["nodes"]] == [consumer]
    # What the consumer printed is its console output, saved with the run.
    consumer_run = run_of(live, sql_run_id(live, "pipeline", consumer))
    saved = {f["name"]: f["downloadUrl"] for f in consumer_run["files"]["nodes"]}
    assert b"FILES ['model.bin']" in downloaded(saved["output.log"])
    assert consumer_run["jobType"] == "eval"
    graph = live.graphql(
        "ada",
        """query($id: ID!) { node(id: $id) { ... on ArtifactVersion {
          lineage(direction: DOWNSTREAM) { nodes { id node { __typename ... on Run { name } } }
                                           edges { from to kind } } } } }""",
        id=linked["id"],
    )["node"]["lineage"]
    runs_below = {n["node"]["name"] for n in graph["nodes"] if n["node"]["__typename"] == "Run"}
    assert consumer in runs_below
    upstream = live.graphql(
        "ada",
        """query($id: ID!) { node(id: $id) { ... on ArtifactVersion {
          lineage(direction: UPSTREAM) { nodes { node { __typename ... on Run { name } } } }
        } } }""",
        id=linked["id"],
    )["node"]["lineage"]
    runs_above = {n["node"]["name"] for n in upstream["nodes"] if n["node"]["__typename"] == "Run"}
    assert producer in runs_above


# --- artifacts: files, folders, references, deduplication ---------------------------------------

BUNDLE = """
import pathlib, wandb
run = wandb.init(project="bundles")
folder = pathlib.Path("bundle")
(folder / "sub").mkdir(parents=True, exist_ok=True)
(folder / "a.txt").write_text("alpha")
(folder / "sub" / "b.txt").write_text("beta")
artifact = wandb.Artifact("bundle", type="dataset", description="a folder", metadata={"rows": 2})
artifact.add_dir(str(folder))
with artifact.new_file("notes.md") as f:
    f.write("# notes")
artifact.add_reference("https://data.example.com/table.csv", name="table.csv", checksum=False)
logged = run.log_artifact(artifact, aliases=["candidate"])
logged.wait()
print("VERSION", logged.version, sorted(logged.aliases))
run.finish()
"""


def test_folders_new_files_and_references_are_logged(live: Cairn, tmp_path: Path) -> None:
    printed = sdk(live, BUNDLE, tmp_path)
    assert "VERSION v0 ['candidate', 'latest']" in printed
    logged = version(live, f"{ORG}/bundles/bundle:candidate")
    assert logged["description"] == "a folder"
    assert logged["metadata"] == {"rows": 2}
    files = {f["path"]: f for f in logged["files"]["nodes"]}
    assert set(files) == {"a.txt", "sub/b.txt", "notes.md", "table.csv"}
    assert downloaded(files["sub/b.txt"]["downloadUrl"]) == b"beta"
    assert downloaded(files["notes.md"]["downloadUrl"]) == b"# notes"
    reference = files["table.csv"]
    assert reference["reference"] == "https://data.example.com/table.csv"
    assert reference["downloadUrl"] is None

    # The SDK reads the same manifest back, reference included.
    manifest = live.api("ada").artifact(f"{ORG}/bundles/bundle:v0").manifest
    entry = manifest.entries["table.csv"]
    assert entry.ref == "https://data.example.com/table.csv"
    assert (
        manifest.entries["a.txt"].digest
        == base64.b64encode(hashlib.md5(b"alpha").digest()).decode()
    )


def test_logging_the_same_files_again_makes_no_version_and_uploads_nothing(
    live: Cairn, tmp_path: Path
) -> None:
    script = """
import wandb
run = wandb.init(project="dedup")
with open("same.txt", "w") as f:
    f.write("the same bytes every time")
logged = run.log_artifact("./same.txt", name="same", type="dataset")
logged.wait()
print("VERSION", logged.version)
run.finish()
"""
    before = transfers(live, "wandb_upload")
    assert "VERSION v0" in sdk(live, script, tmp_path)
    after_first = transfers(live, "wandb_upload")
    assert after_first == before + 1
    assert "VERSION v0" in sdk(live, script, tmp_path)
    assert transfers(live, "wandb_upload") == after_first
    versions = live.graphql(
        "ada",
        '{ organization(name: "acme") { project(name: "dedup") { artifacts: runs(first: 5) '
        "{ nodes { outputs(first: 5) { nodes { versionIndex } } } } } } }",
    )
    outputs = [
        v["versionIndex"]
        for run in versions["organization"]["project"]["artifacts"]["nodes"]
        for v in run["outputs"]["nodes"]
    ]
    assert outputs == [0]


# --- runs: what the SDK records about them -----------------------------------------------------


def test_config_tags_notes_and_a_failed_exit_are_kept(live: Cairn, tmp_path: Path) -> None:
    script = """
import wandb
run = wandb.init(project="details", name="careful-run", config={"lr": 0.01, "layers": [64, 32]},
                 tags=["baseline", "GPU"], notes="first try", job_type="train", group="sweep-a")
for step in range(3):
    run.log({"loss": 1.0 / (step + 1), "nan_metric": float("nan")})
print("RUN", run.id)
run.finish(exit_code=3)
"""
    printed = sdk(live, script, tmp_path)
    run_id = printed.split("RUN ", 1)[1].split()[0]
    run = run_of(live, sql_run_id(live, "details", run_id))
    assert run["name"] == run_id
    assert run["displayName"] == "careful-run"
    assert run["config"] == {"lr": 0.01, "layers": [64, 32]}
    assert run["tags"] == ["baseline", "gpu"]
    assert run["notes"] == "first try"
    assert run["jobType"] == "train"
    assert run["state"] == "FAILED"
    assert run["exitCode"] == 3
    assert run["finishedAt"] is not None
    lines = run["history"]["nodes"]
    assert [line["values"]["loss"] for line in lines] == [1.0, 0.5, 1.0 / 3]
    assert [line["step"] for line in lines] == [0, 1, 2]
    assert lines[0]["values"]["nan_metric"] == "NaN"
    assert run["summary"]["loss"] == 1.0 / 3

    # The SDK reads the same history back.
    sdk_run = live.api("ada").run(f"{ORG}/details/{run_id}")
    assert [row["loss"] for row in sdk_run.history(pandas=False)] == [1.0, 0.5, 1.0 / 3]
    assert sdk_run.history(keys=["loss"], pandas=False) == [
        {"_step": step, "loss": 1.0 / (step + 1)} for step in range(3)
    ]
    assert sdk_run.history(stream="system", pandas=False) == []


def test_a_run_that_goes_silent_is_marked_crashed(live: Cairn, tmp_path: Path) -> None:
    script = """
import os, wandb
run = wandb.init(project="crashes")
run.log({"x": 1})
print("RUN", run.id, flush=True)
os._exit(0)
"""
    printed = sdk(live, script, tmp_path)
    run_id = printed.split("RUN ", 1)[1].split()[0]
    query = (
        "SELECT rn.state::text AS state FROM runs rn JOIN projects p ON p.id = rn.project_id "
        "WHERE p.name = 'crashes' AND rn.name = $1"
    )
    assert sql(live, query, run_id)[0]["state"] == "RUNNING"
    cairn("gc", env=live.env)
    assert sql(live, query, run_id)[0]["state"] == "RUNNING"  # heard from moments ago
    sql(
        live,
        "UPDATE runs SET heartbeat_at = heartbeat_at - interval '11 minutes' WHERE name = $1",
        run_id,
    )
    done = cairn("gc", env=live.env)
    assert done.returncode == 0, done.stderr
    assert sql(live, query, run_id)[0]["state"] == "CRASHED"


# --- refusals -----------------------------------------------------------------------------------


def test_an_organization_the_key_does_not_belong_to_is_refused(live: Cairn, tmp_path: Path) -> None:
    printed = sdk_error(live, "import wandb\nwandb.init(project='p', entity='globex')", tmp_path)
    assert "entity 'globex' is not an organization you belong to" in printed
    assert sql(live, "SELECT 1 FROM projects WHERE name = 'p'") == []


def test_a_viewer_may_not_log_a_run(live: Cairn, tmp_path: Path) -> None:
    printed = sdk_error(live, "import wandb\nwandb.init(project='viewer-project')", tmp_path, "cy")
    assert "logging a run needs the organization role MEMBER or higher" in printed
    assert sql(live, "SELECT 1 FROM projects WHERE name = 'viewer-project'") == []


LINK_TO = """
import wandb
run = wandb.init(project="refusals")
with open("f.txt", "w") as f:
    f.write("refused link")
logged = run.log_artifact("./f.txt", name="refused-{type}", type="{type}")
try:
    run.link_artifact(logged, "{target}")
except Exception as error:
    print("ERROR", error)
run.finish()
"""


@pytest.mark.parametrize(
    ("artifact_type", "target", "message"),
    [
        ("model", "acme/wandb-registry-nope/c", "registry 'nope' not found"),
        ("dataset", "acme/wandb-registry-model/wrong-type", "does not accept"),
    ],
)
def test_a_link_cairn_refuses_says_why_and_makes_nothing(
    live: Cairn, tmp_path: Path, artifact_type: str, target: str, message: str
) -> None:
    printed = sdk(live, LINK_TO.format(type=artifact_type, target=target), tmp_path)
    assert "ERROR" in printed
    assert message in printed
    found = live.graphql(
        "ada",
        '{ registry(organization: "acme", name: "model") '
        '{ collection(name: "wrong-type") { id } } }',
    )
    assert found["registry"]["collection"] is None


def test_link_with_the_organization_omitted(live: Cairn, tmp_path: Path) -> None:
    script = """
import wandb
run = wandb.init(project="no-org")
with open("g.txt", "w") as f:
    f.write("no org in the path")
logged = run.log_artifact("./g.txt", name="no-org", type="model")
run.link_artifact(logged, "wandb-registry-model/no-org-collection")
run.finish()
"""
    sdk(live, script, tmp_path)
    linked = version(live, f"{ORG}/wandb-registry-model/no-org-collection:latest")
    assert linked["versionIndex"] == 0


# --- the protocol's steps, one by one ------------------------------------------------------------


class Dialect:
    """The SDK's own mutations, sent as it sends them, to check what each refuses."""

    def __init__(self, live: Cairn, user: str = "ada") -> None:
        self.live = live
        self.auth = ("api", live.keys[user])

    def call(self, query: str, **variables: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.live.base_url}/graphql",
            json={"query": query, "variables": variables},
            auth=self.auth,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def ok(self, query: str, **variables: Any) -> dict[str, Any]:
        body = self.call(query, **variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    def start_run(self, project: str, name: str) -> None:
        self.ok(
            "mutation($p: String, $n: String) { upsertBucket(input: {modelName: $p, name: $n, "
            'entityName: "acme"}) { bucket { id } inserted } }',
            p=project,
            n=name,
        )

    def create_artifact(self, project: str, run: str, name: str, digest: str) -> str:
        data = self.ok(
            """mutation($input: CreateArtifactInput!) { createArtifact(input: $input) {
                 artifact { id state } } }""",
            input={
                "entityName": "acme",
                "projectName": project,
                "runName": run,
                "artifactTypeName": "dataset",
                "artifactCollectionName": name,
                "digest": digest,
                "digestAlgorithm": "MANIFEST_MD5",
                "aliases": [{"alias": "latest", "artifactCollectionName": name}],
                "enableDigestDeduplication": True,
            },
        )
        assert data["createArtifact"]["artifact"]["state"] == "PENDING"
        artifact_id: str = data["createArtifact"]["artifact"]["id"]
        return artifact_id

    def file_url(self, artifact_id: str, name: str, content: bytes) -> str | None:
        md5 = base64.b64encode(hashlib.md5(content).digest()).decode()
        data = self.ok(
            """mutation($input: CreateArtifactFilesInput!) { createArtifactFiles(input: $input) {
                 files { edges { node { uploadUrl } } } } }""",
            input={
                "artifactFiles": [{"artifactID": artifact_id, "name": name, "md5": md5}],
                "storageLayout": "V2",
            },
        )
        url: str | None = data["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
        return url

    def put_manifest(self, artifact_id: str, contents: dict[str, bytes]) -> None:
        data = self.ok(
            """mutation($id: ID!) { createArtifactManifest(input: {artifactID: $id,
                 name: "wandb_manifest.json", digest: "d", entityName: "acme",
                 projectName: "steps", runName: "r", type: FULL}) {
                 artifactManifest { file { uploadUrl } } } }""",
            id=artifact_id,
        )
        url = data["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
        manifest = {
            "version": 1,
            "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"},
            "contents": {
                path: {
                    "digest": base64.b64encode(hashlib.md5(content).digest()).decode(),
                    "size": len(content),
                }
                for path, content in contents.items()
            },
        }
        assert httpx.put(url, json=manifest, timeout=30).status_code == 201

    def commit(self, artifact_id: str) -> dict[str, Any]:
        return self.call(
            "mutation($id: ID!) { commitArtifact(input: {artifactID: $id}) "
            "{ artifact { id digest } } }",
            id=artifact_id,
        )


def test_a_manifest_whose_files_never_arrived_is_not_committed(live: Cairn) -> None:
    dialect = Dialect(live)
    dialect.start_run("steps", "r")
    artifact_id = dialect.create_artifact("steps", "r", "half-sent", "digest-half-sent")
    sent, never = b"this file arrives", b"this one never does"
    url = dialect.file_url(artifact_id, "sent.txt", sent)
    assert url is not None
    assert httpx.put(url, content=sent, timeout=30).status_code == 201
    dialect.put_manifest(artifact_id, {"sent.txt": sent, "never.txt": never})

    refused = dialect.commit(artifact_id)
    (error,) = refused["errors"]
    assert "1 of the manifest's 2 files never arrived: 'never.txt'" in error["message"]
    assert error["extensions"]["code"] == "FILES_NOT_STORED"
    no_version(live, f"{ORG}/steps/half-sent:latest")

    # The missing file arrives (a retry of the upload): the same pending artifact commits.
    url = dialect.file_url(artifact_id, "never.txt", never)
    assert url is not None
    assert httpx.put(url, content=never, timeout=30).status_code == 201
    committed = dialect.commit(artifact_id)
    assert "errors" not in committed, committed
    assert committed["data"]["commitArtifact"]["artifact"]["id"] == artifact_id
    assert committed["data"]["commitArtifact"]["artifact"]["digest"] == "digest-half-sent"
    logged = version(live, f"{ORG}/steps/half-sent:latest")
    assert {f["path"] for f in logged["files"]["nodes"]} == {"sent.txt", "never.txt"}
    # Committing again (a retry) answers the same version.
    again = dialect.commit(artifact_id)
    assert again["data"]["commitArtifact"]["artifact"]["id"] == artifact_id


def test_an_artifact_left_uncommitted_never_becomes_a_version(live: Cairn) -> None:
    dialect = Dialect(live)
    dialect.start_run("steps", "killed")
    artifact_id = dialect.create_artifact("steps", "killed", "abandoned", "digest-abandoned")
    content = b"uploaded by a run killed before it committed"
    url = dialect.file_url(artifact_id, "x.txt", content)
    assert url is not None
    assert httpx.put(url, content=content, timeout=30).status_code == 201
    refused = dialect.commit(artifact_id)
    assert "manifest was never uploaded" in refused["errors"][0]["message"]
    no_version(live, f"{ORG}/steps/abandoned:v0")

    # A day later the collector forgets it; committing then finds nothing to commit.
    sql(live, "UPDATE artifact_uploads SET created_at = created_at - interval '25 hours'")
    assert cairn("gc", env=live.env).returncode == 0
    gone = dialect.commit(artifact_id)
    assert "no artifact of this ID is being logged" in gone["errors"][0]["message"]


def test_bytes_that_are_not_the_declared_ones_are_refused(live: Cairn) -> None:
    dialect = Dialect(live)
    dialect.start_run("steps", "liar")
    artifact_id = dialect.create_artifact("steps", "liar", "liar", "digest-liar")
    url = dialect.file_url(artifact_id, "a.txt", b"declared bytes")
    assert url is not None
    response = httpx.put(url, content=b"other bytes", timeout=30)
    assert response.status_code == 400
    assert "this URL takes the bytes with MD5" in response.json()["error"]
    # Still not held: the next prepare asks for the bytes again.
    assert dialect.file_url(artifact_id, "a.txt", b"declared bytes") is not None


def test_another_organizations_member_cannot_touch_a_pending_artifact(live: Cairn) -> None:
    dialect = Dialect(live)
    dialect.start_run("steps", "owner")
    artifact_id = dialect.create_artifact("steps", "owner", "private-upload", "digest-private")
    outsider = Dialect(live, "dora")
    refused = outsider.commit(artifact_id)
    assert "no artifact of this ID is being logged" in refused["errors"][0]["message"]
    body = outsider.call(
        """mutation($input: CreateArtifactFilesInput!) { createArtifactFiles(input: $input) {
             files { edges { node { uploadUrl } } } } }""",
        input={
            "artifactFiles": [
                {"artifactID": artifact_id, "name": "x", "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}
            ]
        },
    )
    assert "no artifact of this ID is being logged" in body["errors"][0]["message"]


def test_the_file_stream_refuses_what_it_cannot_take(live: Cairn) -> None:
    dialect = Dialect(live)
    dialect.start_run("steps", "streamer")
    url = f"{live.base_url}/files/acme/steps/streamer/file_stream"
    assert httpx.post(url, json={}, timeout=10).status_code == 401
    bad_json = httpx.post(url, content=b"{not json", auth=dialect.auth, timeout=10)
    assert bad_json.status_code == 400
    bad_line = httpx.post(
        url,
        json={"files": {"wandb-history.jsonl": {"offset": 0, "content": ["[1, 2]"]}}},
        auth=dialect.auth,
        timeout=10,
    )
    assert bad_line.status_code == 400
    assert "wandb-history.jsonl[0]" in bad_line.json()["error"]
    missing = httpx.post(
        f"{live.base_url}/files/acme/steps/no-such-run/file_stream",
        json={},
        auth=dialect.auth,
        timeout=10,
    )
    assert missing.status_code == 404
    # A line sent again (the SDK retries) replaces itself rather than adding one.
    for _ in range(2):
        sent = httpx.post(
            url,
            json={"files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"a": 1}']}}},
            auth=dialect.auth,
            timeout=10,
        )
        assert sent.status_code == 200
    rows = sql(
        live,
        "SELECT count(*) AS n FROM run_history h JOIN runs r ON r.id = h.run_id "
        "WHERE r.name = 'streamer'",
    )
    assert rows[0]["n"] == 1
    outsider = httpx.post(url, json={}, auth=("api", live.keys["dora"]), timeout=10)
    assert outsider.status_code == 404


# --- concurrency --------------------------------------------------------------------------------


def test_concurrent_runs_in_a_new_project_make_it_once(live: Cairn) -> None:
    dialect = Dialect(live)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: dialect.start_run("fresh-project", f"run-{i}"), range(6)))
    rows = sql(
        live,
        "SELECT count(DISTINCT p.id) AS projects, count(*) AS runs FROM projects p "
        "JOIN runs r ON r.project_id = p.id WHERE p.name = 'fresh-project'",
    )
    assert (rows[0]["projects"], rows[0]["runs"]) == (1, 6)


def prepared(dialect: Dialect, run: str, name: str, digest: str, content: bytes) -> str:
    """A pending artifact whose one file and manifest are uploaded."""
    artifact_id = dialect.create_artifact("steps", run, name, digest)
    url = dialect.file_url(artifact_id, "data.bin", content)
    if url is not None:
        assert httpx.put(url, content=content, timeout=30).status_code == 201
    dialect.put_manifest(artifact_id, {"data.bin": content})
    return artifact_id


def test_concurrent_commits_of_one_artifact_make_one_version(live: Cairn) -> None:
    dialect = Dialect(live)
    dialect.start_run("steps", "racer")
    artifact_id = prepared(dialect, "racer", "raced", "digest-raced", b"committed four times")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: dialect.commit(artifact_id), range(4)))
    for answer in answers:
        assert "errors" not in answer, answer
        assert answer["data"]["commitArtifact"]["artifact"]["id"] == artifact_id
    assert version(live, f"{ORG}/steps/raced:v0")["versionIndex"] == 0
    no_version(live, f"{ORG}/steps/raced:v1")


def test_two_runs_logging_the_same_files_at_once_share_one_version(live: Cairn) -> None:
    """Both SDKs keep the ID they were given at the start, and both name the one version."""
    dialect = Dialect(live)
    content = b"the same dataset, logged by two ranks at once"
    ids = []
    for run in ("rank-0", "rank-1"):
        dialect.start_run("steps", run)
        ids.append(prepared(dialect, run, "shared-dataset", "digest-shared", content))
    assert ids[0] != ids[1]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(dialect.commit, ids))
    for answer in answers:
        assert "errors" not in answer, answer
    found = [
        dialect.ok("query($id: ID!) { artifact(id: $id) { id versionIndex } }", id=i)["artifact"]
        for i in ids
    ]
    assert found[0] == found[1]
    assert found[0]["versionIndex"] == 0
    no_version(live, f"{ORG}/steps/shared-dataset:v1")
    # The version is usable by either ID, as each SDK goes on to use it.
    dialect.start_run("steps", "rank-2")
    for artifact_id in ids:
        dialect.ok(
            'mutation($id: ID!) { useArtifact(input: {entityName: "acme", projectName: '
            '"steps", runName: "rank-2", artifactID: $id}) { artifact { id } } }',
            id=artifact_id,
        )


def test_a_long_history_is_read_back_sampled_evenly(live: Cairn) -> None:
    dialect = Dialect(live)
    dialect.start_run("steps", "long-history")
    lines = [f'{{"_step": {i}, "x": {i * i}}}' for i in range(1000)]
    sent = httpx.post(
        f"{live.base_url}/files/acme/steps/long-history/file_stream",
        json={"files": {"wandb-history.jsonl": {"offset": 0, "content": lines}}},
        auth=dialect.auth,
        timeout=30,
    )
    assert sent.status_code == 200
    query = """query($samples: Int) { project(name: "steps", entityName: "acme") {
                 run(name: "long-history") { history(samples: $samples) } } }"""
    sampled = [
        orjson.loads(line)["_step"]
        for line in dialect.ok(query, samples=10)["project"]["run"]["history"]
    ]
    assert len(sampled) == 10
    assert sampled == sorted(sampled)
    assert sampled[0] == 0
    assert sampled[-1] == 999
    gaps = [b - a for a, b in itertools.pairwise(sampled)]
    assert max(gaps) - min(gaps) <= 1, gaps
    assert len(dialect.ok(query, samples=5000)["project"]["run"]["history"]) == 1000
    refused = dialect.call(query, samples=100_000)
    assert "`samples` must be from 1 to 10000" in refused["errors"][0]["message"]


def test_a_run_resumed_by_id_goes_on_where_it_stopped(live: Cairn, tmp_path: Path) -> None:
    script = """
import wandb
for loss in (1.0, 0.5):
    run = wandb.init(project="resumable", id="preempted-1", resume="allow")
    run.log({"loss": loss})
    run.finish()
"""
    sdk(live, script, tmp_path)
    rows = sql(
        live,
        "SELECT h.line, h.row FROM run_history h JOIN runs r ON r.id = h.run_id "
        "WHERE r.name = 'preempted-1' ORDER BY h.line",
    )
    lines = [(r["line"], json.loads(r["row"])) for r in rows]
    assert [(line, row["_step"], row["loss"]) for line, row in lines] == [(0, 0, 1.0), (1, 1, 0.5)]
    (run,) = sql(live, "SELECT state::text AS state, summary FROM runs WHERE name = 'preempted-1'")
    assert run["state"] == "FINISHED"
    assert json.loads(run["summary"])["loss"] == 0.5

    printed = sdk_error(
        live,
        "import wandb\nwandb.init(project='resumable', id='never-ran', resume='must')",
        tmp_path,
    )
    assert "Run (never-ran) does not exist or has not been initialized" in printed
    assert sql(live, "SELECT 1 FROM runs WHERE name = 'never-ran'") == []
