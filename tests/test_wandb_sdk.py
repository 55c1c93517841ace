"""The real `wandb` SDK, unmodified, against a live Cairn server: every public-API call of a
registry user, as admin, member, viewer and outsider, checked against Cairn's own API.

The SDK sends its own queries; nothing here names a W&B operation. Each test works on
collections of its own where it changes anything, so that the tests do not depend on order.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from wandb.errors import AuthenticationError, CommError
from wandb.sdk.lib.service.service_connection import WandbApiFailedError

from tests.support.wandb_sdk import Cairn, live_cairn, run_sdk_script

ORG = "acme"
MODEL = f"{ORG}/wandb-registry-model"
CHURN = f"{MODEL}/churn-classifier"


@pytest.fixture(scope="module")
async def live(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cairn]:
    async with live_cairn(server_url, tmp_path_factory, "wandb") as started:
        yield started


def digest_by_path(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


VERSION = """query($path: String!) { artifactVersion(path: $path) {
  id versionIndex digest aliases tags description metadata
  collection { name }
  createdBy { name } usedBy(first: 20) { nodes { name } }
  files(first: 100) { nodes { path downloadUrl } } } }"""


def cairn_version(live: Cairn, path: str, user: str = "ada") -> dict[str, Any]:
    found: dict[str, Any] = live.graphql(user, VERSION, path=path)["artifactVersion"]
    return found


def cairn_bytes(live: Cairn, path: str) -> dict[str, str]:
    """Each file's SHA-256, read through Cairn's own download URLs."""
    files = cairn_version(live, path)["files"]["nodes"]
    return {
        f["path"]: hashlib.sha256(httpx.get(f["downloadUrl"], timeout=30).content).hexdigest()
        for f in files
    }


# --- who is calling ---------------------------------------------------------------------------


def test_the_sdk_signs_in_with_a_cairn_key(live: Cairn) -> None:
    api = live.api("bob")
    assert api.viewer.username == "bob"
    assert api.default_entity == "bob"


def test_a_wrong_key_is_refused_in_words(live: Cairn) -> None:
    import wandb

    wrong = "cairn_" + "0" * 64
    with pytest.raises(AuthenticationError, match="not valid"):
        wandb.Api(api_key=wrong, overrides={"base_url": live.base_url})


def test_without_credentials_the_dialect_says_what_to_send(live: Cairn) -> None:
    response = httpx.post(
        f"{live.base_url}/graphql", json={"query": "{ viewer { username } }"}, timeout=10
    )
    assert response.status_code == 401
    assert "WANDB_API_KEY" in response.json()["errors"][0]["message"]
    assert response.headers["www-authenticate"].startswith("Basic")


# --- reading ----------------------------------------------------------------------------------

REGISTRIES = """{ organization(name: "acme") { registries(first: 50) { nodes { name } } } }"""


@pytest.mark.parametrize("user", ["ada", "bob", "cy"])
def test_registries_are_those_cairn_shows_the_same_user(live: Cairn, user: str) -> None:
    listed = sorted(r.name for r in live.api(user).registries(organization=ORG))
    shown = live.graphql(user, REGISTRIES)["organization"]["registries"]["nodes"]
    assert listed == sorted(r["name"] for r in shown)
    assert ("eval-reports" in listed) == (user == "ada")


def test_a_registry_reads_as_cairn_holds_it(live: Cairn) -> None:
    registry = live.api("bob").registry("model", organization=ORG)
    assert registry.full_name == "wandb-registry-model"
    assert registry.visibility == "organization"
    assert list(registry.artifact_types) == ["model"]
    assert registry.description == "The organization's core model registry."
    collections = sorted(c.name for c in registry.collections())
    assert {"churn-classifier", "defect-detector"} <= set(collections)


def test_searches_translate_onto_cairn_search(live: Cairn) -> None:
    api = live.api("ada")
    by_alias = sorted(
        v.name for v in api.registries(organization=ORG).versions(filter={"alias": "production"})
    )
    found = live.graphql(
        "ada",
        """{ artifactVersions(organization: "acme", first: 100,
             filter: {aliases: {any: ["production"]}}) {
             nodes { versionIndex collection { name } } } }""",
    )["artifactVersions"]["nodes"]
    assert by_alias == sorted(f"{n['collection']['name']}:v{n['versionIndex']}" for n in found)
    assert "churn-classifier:v7" in by_alias

    strong = api.registries(organization=ORG).versions(
        filter={"$and": [{"metadata.auc": {"$gte": 0.85}}, {"tag": "xgboost"}]}
    )
    names = sorted(v.name for v in strong)
    assert names
    assert all(n.startswith("churn-classifier:") for n in names)
    assert all(v.metadata["auc"] >= 0.85 for v in strong)

    tagged = [
        c.name
        for c in api.registries(filter={"name": "model"}).collections(filter={"tag": "tabular"})
    ]
    assert tagged == ["churn-classifier"]


def test_a_bad_filter_is_a_readable_error(live: Cairn) -> None:
    # The SDK checks field names itself; the server checks the rest and names the part at fault.
    versions = (
        live.api("ada").registries(organization=ORG).versions(filter={"version": {"$gt": "seven"}})
    )
    with pytest.raises(WandbApiFailedError, match=r"`filters\.version\.\$gt`: give a whole"):
        list(versions)


@pytest.mark.parametrize(
    "path",
    [
        f"{CHURN}:production",
        f"{CHURN}:v7",
        "wandb-registry-model/churn-classifier:production",
        f"{ORG}/churn/churn-model:v7",
    ],
)
def test_an_artifact_path_resolves_to_the_version_cairn_resolves(live: Cairn, path: str) -> None:
    artifact = live.api("cy").artifact(path)
    cairn_path = path if path.startswith(ORG) else f"{ORG}/{path}"
    expected = cairn_version(live, cairn_path, "cy")
    assert artifact.digest == expected["digest"]
    assert artifact.metadata == expected["metadata"]
    assert artifact.version == f"v{expected['versionIndex']}"
    assert sorted(artifact.aliases) == sorted(expected["aliases"])


def test_a_missing_or_hidden_artifact_answers_as_missing(live: Cairn) -> None:
    with pytest.raises(CommError, match="not found"):
        live.api("bob").artifact(f"{CHURN}:no-such-alias")
    # A restricted registry is invisible to a member without a role in it, as if missing.
    hidden = f"{ORG}/wandb-registry-eval-reports/churn-evals:latest"
    assert live.api("ada").artifact(hidden).name.startswith("churn-evals:")
    with pytest.raises(CommError, match="not found"):
        live.api("bob").artifact(hidden)
    with pytest.raises(CommError, match="not found"):
        live.api("bob").artifact(f"{ORG}/wandb-registry-nothing-here/x:latest")
    # Someone of another organization: the SDK itself stops at the organization, and the
    # server shows them nothing of it either.
    with pytest.raises((ValueError, CommError), match="globex"):
        live.api("dora").artifact(f"{CHURN}:production")
    with pytest.raises(ValueError, match="Organization 'acme' not found"):
        list(live.api("dora").registries(organization=ORG))


# --- files ------------------------------------------------------------------------------------


def test_download_is_byte_identical_and_verifies(live: Cairn, tmp_path: Path) -> None:
    artifact = live.api("cy").artifact(f"{CHURN}:production")
    root = Path(artifact.download(root=str(tmp_path / "got"), skip_cache=True))
    assert digest_by_path(root) == cairn_bytes(live, f"{CHURN}:production")
    artifact.verify(root=str(root))

    listed = {f.name: f.size for f in artifact.files()}
    assert listed == {p.name: p.stat().st_size for p in root.iterdir()}

    one = sorted(listed)[0]
    single = Path(artifact.get_entry(one).download(root=str(tmp_path / "one"), skip_cache=True))
    assert single.read_bytes() == (root / one).read_bytes()

    (root / one).write_bytes(b"tampered")
    with pytest.raises(ValueError, match="Digest mismatch"):
        artifact.verify(root=str(root))


def test_a_deployment_job_runs_unchanged_with_two_variables(live: Cairn, tmp_path: Path) -> None:
    script = (
        "import hashlib, pathlib, wandb\n"
        f"root = wandb.Api().artifact('{CHURN}:production').download(root='got')\n"
        "for p in sorted(pathlib.Path(root).iterdir()):\n"
        "    print(p.name, hashlib.sha256(p.read_bytes()).hexdigest())\n"
    )
    env = {"WANDB_BASE_URL": live.base_url, "WANDB_API_KEY": live.keys["cy"]}
    printed = run_sdk_script(script, env, tmp_path)
    got = dict(line.split() for line in printed.splitlines())
    assert got == cairn_bytes(live, f"{CHURN}:production")


@pytest.mark.parametrize("how", ["python", "cli"])
def test_wandb_login_host_stores_the_server(live: Cairn, tmp_path: Path, how: str) -> None:
    if how == "cli":
        login = (
            "import sys\n"
            "from wandb.cli.cli import cli\n"
            f"sys.argv = ['wandb', 'login', '--host', '{live.base_url}', '{live.keys['bob']}']\n"
            "cli(standalone_mode=False)\n"
        )
    else:
        login = (
            "import wandb\n"
            f"assert wandb.login(host='{live.base_url}', key='{live.keys['bob']}', verify=True)\n"
        )
    run_sdk_script(login, {}, tmp_path)
    # A later job on the same machine needs neither variable.
    read = f"import wandb\nprint(wandb.Api().artifact('{CHURN}:v7').digest)\n"
    printed = run_sdk_script(read, {}, tmp_path)
    assert printed.strip() == cairn_version(live, f"{CHURN}:v7")["digest"]


# --- lineage ----------------------------------------------------------------------------------


def test_lineage_reads_as_cairn_holds_it(live: Cairn) -> None:
    artifact = live.api("bob").artifact(f"{CHURN}:production")
    expected = cairn_version(live, f"{CHURN}:production", "bob")
    assert artifact.logged_by().name == expected["createdBy"]["name"]
    assert sorted(r.name for r in artifact.used_by()) == sorted(
        n["name"] for n in expected["usedBy"]["nodes"]
    )
    source = artifact.source_artifact
    assert source.qualified_name == f"{ORG}/churn/churn-model:v7"
    assert f"{CHURN}:v7" in [a.qualified_name for a in source.linked_artifacts]


# --- links, aliases, tags ---------------------------------------------------------------------

HISTORY = """query($collection: String!) { registry(organization: "acme", name: "model") {
  collection(name: $collection) { history(first: 50) { nodes { action actor { name } } } } } }"""


def history(live: Cairn, collection: str) -> list[tuple[str, str]]:
    data = live.graphql("ada", HISTORY, collection=collection)
    nodes = data["registry"]["collection"]["history"]["nodes"]
    return [(n["action"], n["actor"]["name"]) for n in nodes]


def test_a_member_links_aliases_tags_and_unlinks(live: Cairn) -> None:
    api = live.api("bob")
    source = api.artifact(f"{CHURN}:v3")
    linked = source.link(f"{MODEL}/sdk-member-links", aliases=["candidate"])
    assert linked.qualified_name == f"{MODEL}/sdk-member-links:v0"
    assert sorted(linked.aliases) == ["candidate", "latest"]

    again = api.artifact(f"{MODEL}/sdk-member-links:candidate")
    again.aliases.append("blue")
    again.aliases.remove("candidate")
    again.tags.append("sdk")
    again.description = "linked through the wandb SDK"
    again.metadata = {**again.metadata, "checked": True}
    again.save()

    stored = cairn_version(live, f"{MODEL}/sdk-member-links:v0", "bob")
    assert sorted(stored["aliases"]) == ["blue", "latest"]
    assert "sdk" in stored["tags"]
    assert stored["description"] == "linked through the wandb SDK"
    assert stored["metadata"]["checked"] is True

    api.artifact(f"{MODEL}/sdk-member-links:blue").unlink()
    with pytest.raises(CommError, match="not found"):
        api.artifact(f"{MODEL}/sdk-member-links:v0")

    actions = history(live, "sdk-member-links")
    for action in (
        "LINK_ARTIFACT",
        "ADD_ARTIFACT_ALIAS",
        "REMOVE_ARTIFACT_ALIAS",
        "ADD_TAG",
        "UPDATE_ARTIFACT_VERSION",
        "UNLINK_ARTIFACT",
    ):
        assert (action, "bob") in actions, actions


def test_protected_aliases_are_refused_to_members_with_the_sdk_message(live: Cairn) -> None:
    model_id = live.graphql("ada", '{ registry(organization: "acme", name: "model") { id } }')
    registry_id = model_id["registry"]["id"]
    live.mutate(
        "ada",
        "updateRegistry",
        "registry { id }",
        registryId=registry_id,
        protectedAliases=["gold"],
    )
    try:
        api = live.api("bob")
        linked = api.artifact(f"{CHURN}:v2").link(f"{MODEL}/sdk-protected")
        linked.aliases.append("gold")
        # The SDK's own rewording of this refusal never runs in 0.31 (it catches an exception
        # its client no longer raises), so the server's words reach the user.
        with pytest.raises(CommError, match="alias 'gold' is protected in registry 'model'"):
            linked.save()
        assert cairn_version(live, f"{MODEL}/sdk-protected:v0")["aliases"] == ["latest"]

        as_admin = live.api("ada").artifact(f"{MODEL}/sdk-protected:v0")
        as_admin.aliases.append("gold")
        as_admin.save()
        assert "gold" in cairn_version(live, f"{MODEL}/sdk-protected:v0")["aliases"]
    finally:
        live.mutate(
            "ada", "updateRegistry", "registry { id }", registryId=registry_id, protectedAliases=[]
        )


def test_a_viewer_may_read_but_not_link(live: Cairn) -> None:
    artifact = live.api("cy").artifact(f"{CHURN}:v1")
    with pytest.raises(CommError, match="linking needs the role MEMBER or higher") as refused:
        artifact.link(f"{MODEL}/sdk-viewer-link")
    assert "Traceback" not in str(refused.value)
    found = live.graphql(
        "ada",
        '{ registry(organization: "acme", name: "model") '
        '{ collection(name: "sdk-viewer-link") { id } } }',
    )
    assert found["registry"]["collection"] is None


def test_a_link_made_by_the_sdk_fires_the_collection_webhook(live: Cairn) -> None:
    from tests.support.webhooks import Receiver

    receiver = Receiver()
    try:
        live.watch_links("sdk-links", "sdk-webhook", receiver.url)
        live.api("bob").artifact(f"{CHURN}:v4").link(f"{MODEL}/sdk-webhook")
        (delivered,) = receiver.wait_for(1, timeout=30)
        body = delivered.json()
        assert body["event_type"] == "LINK_ARTIFACT"
        assert body["event_author"] == "bob"
    finally:
        receiver.close()


# --- registry administration ------------------------------------------------------------------


def test_an_admin_creates_saves_renames_and_deletes_a_registry(live: Cairn) -> None:
    import wandb

    api = live.api("ada")
    api.create_registry(
        "sdk-admin",
        visibility="restricted",
        organization=ORG,
        artifact_types=["model"],
        description="made by the SDK",
    )
    registry = api.registry("sdk-admin", organization=ORG)
    assert registry.visibility == "restricted"
    registry.description = "changed by the SDK"
    registry.artifact_types.append("dataset")
    registry.visibility = "organization"
    registry.save()
    registry.name = "sdk-admin-renamed"
    registry.save()

    shown = live.graphql(
        "ada",
        """{ registry(organization: "acme", name: "sdk-admin-renamed") {
             description visibility acceptedTypes } }""",
    )["registry"]
    assert shown == {
        "description": "changed by the SDK",
        "visibility": "ORGANIZATION",
        "acceptedTypes": ["dataset", "model"],
    }
    api.registry("sdk-admin-renamed", organization=ORG).delete()
    with pytest.raises((ValueError, CommError)):
        wandb.Api(api_key=live.keys["ada"], overrides={"base_url": live.base_url}).registry(
            "sdk-admin-renamed", organization=ORG
        ).load()


def test_members_and_teams_are_managed_through_the_sdk(live: Cairn) -> None:
    team = live.mutate("ada", "createTeam", "team { id }", organization=ORG, name="sdk-team")
    bob_id = live.graphql("bob", "{ viewer { user { id } } }")["viewer"]["user"]["id"]
    live.mutate(
        "ada",
        "addTeamMembers",
        "team { id }",
        input_type="TeamMembersInput",
        teamId=team["team"]["id"],
        userIds=[bob_id],
    )
    api = live.api("ada")
    api.create_registry("sdk-members", visibility="restricted", organization=ORG)
    registry = api.registry("sdk-members", organization=ORG)
    cy = api.user("cy")
    registry.add_members(cy)
    assert ("cy", "member") in [(m.user.username, m.role) for m in registry.user_members()]
    registry.update_member(cy, "viewer")
    assert ("cy", "viewer") in [(m.user.username, m.role) for m in registry.user_members()]
    # Now cy sees the restricted registry; before, it did not exist for them.
    assert live.api("cy").registry("sdk-members", organization=ORG).name == "sdk-members"
    registry.remove_members(cy)
    assert "cy" not in [m.user.username for m in registry.user_members()]

    sdk_team = api.team("sdk-team")
    assert [m.username for m in sdk_team.members] == ["bob"]
    registry.add_members(sdk_team)
    registry.update_member(sdk_team, "admin")
    assert [(m.team.name, m.role) for m in registry.team_members()] == [("sdk-team", "admin")]
    registry.remove_members(sdk_team)
    assert registry.team_members() == []


def test_registry_changes_need_their_roles(live: Cairn) -> None:
    registry = live.api("bob").registry("model", organization=ORG)
    registry.description = "not bob's to change"
    with pytest.raises(ValueError, match="Failed to save") as refused:
        registry.save()
    assert "needs the role ADMIN or higher" in str(refused.value.__cause__)
    with pytest.raises(ValueError, match="Failed to create") as refused:
        live.api("cy").create_registry("sdk-by-viewer", visibility="organization", organization=ORG)
    assert "needs the organization role MEMBER or higher" in str(refused.value.__cause__)


# --- collection administration ----------------------------------------------------------------


def test_a_collection_is_described_tagged_renamed_and_deleted(live: Cairn) -> None:
    api = live.api("bob")
    api.artifact(f"{CHURN}:v5").link(f"{MODEL}/sdk-collection")
    collection = api.artifact_collection("model", f"{MODEL}/sdk-collection")
    collection.description = "A card written through the SDK."
    collection.tags.append("from-sdk")
    collection.save()
    collection.name = "sdk-collection-renamed"
    collection.save()

    shown = live.graphql(
        "bob",
        """{ registry(organization: "acme", name: "model") {
             collection(name: "sdk-collection-renamed") { description tags } } }""",
    )["registry"]["collection"]
    assert shown == {"description": "A card written through the SDK.", "tags": ["from-sdk"]}

    renamed = api.artifact_collection("model", f"{MODEL}/sdk-collection-renamed")
    assert [a.version for a in renamed.artifacts()] == ["v0"]
    renamed.delete()
    gone = live.graphql(
        "bob",
        """{ registry(organization: "acme", name: "model") {
             collection(name: "sdk-collection-renamed") { id } } }""",
    )
    assert gone["registry"]["collection"] is None


def test_deleting_a_linked_artifact_unlinks_it_and_a_logged_one_goes(live: Cairn) -> None:
    api = live.api("bob")
    api.artifact(f"{CHURN}:v6").link(f"{MODEL}/sdk-delete")
    api.artifact(f"{MODEL}/sdk-delete:v0").delete()
    with pytest.raises(CommError, match="not found"):
        api.artifact(f"{MODEL}/sdk-delete:v0")
    # The logged version is untouched, and while linked elsewhere it cannot go.
    logged = api.artifact(f"{ORG}/churn/churn-model:v6")
    with pytest.raises(CommError, match="linked into 1 registry collection"):
        logged.delete()
    assert cairn_version(live, f"{ORG}/churn/churn-model:v6")["versionIndex"] == 6


def test_a_logged_version_linked_nowhere_is_deleted_with_its_aliases(
    live: Cairn, tmp_path: Path
) -> None:
    from tests.support.processes import cairn

    folder = tmp_path / "scratch"
    folder.mkdir()
    for n in range(2):
        (folder / "notes.md").write_text(f"scratch {n}\n")
        pushed = cairn(
            "push",
            str(folder),
            f"{ORG}/churn/sdk-scratch",
            "--type",
            "dataset",
            env={**live.env, "CAIRN_URL": live.server.base_url, "CAIRN_API_KEY": live.keys["bob"]},
        )
        assert pushed.returncode == 0, pushed.stderr
    api = live.api("bob")
    newest = api.artifact(f"{ORG}/churn/sdk-scratch:v1")
    newest.aliases.append("keep-me")
    newest.save()
    with pytest.raises(CommError, match="holds the aliases keep-me"):
        api.artifact(f"{ORG}/churn/sdk-scratch:v1").delete()
    api.artifact(f"{ORG}/churn/sdk-scratch:v1").delete(delete_aliases=True)
    with pytest.raises(CommError, match="not found"):
        api.artifact(f"{ORG}/churn/sdk-scratch:v1")
    # `latest` moved back to the version that remains.
    assert cairn_version(live, f"{ORG}/churn/sdk-scratch:latest")["versionIndex"] == 0
    with pytest.raises(CommError, match="deleting a logged version needs the organization role"):
        live.api("cy").artifact(f"{ORG}/churn/sdk-scratch:v0").delete()


def test_a_single_file_artifact_reads_with_file(live: Cairn, tmp_path: Path) -> None:
    from tests.support.processes import cairn

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "notes.md").write_text("# What this model is for\n")
    pushed = cairn(
        "push",
        str(folder),
        f"{ORG}/churn/sdk-notes",
        "--type",
        "model",
        "--link",
        f"{MODEL}/sdk-notes",
        env={**live.env, "CAIRN_URL": live.server.base_url, "CAIRN_API_KEY": live.keys["bob"]},
    )
    assert pushed.returncode == 0, pushed.stderr
    artifact = live.api("cy").artifact(f"{MODEL}/sdk-notes:latest")
    read = Path(artifact.file(root=str(tmp_path / "got")))
    assert read.read_text() == "# What this model is for\n"


def test_a_time_to_live_is_set_and_removed(live: Cairn) -> None:
    from datetime import timedelta

    api = live.api("bob")
    artifact = api.artifact(f"{ORG}/churn/churn-model:v1")
    artifact.ttl = timedelta(days=30)
    artifact.save()
    ttl = """query($path: String!) { artifactVersion(path: $path) { ttlSeconds } }"""
    shown = live.graphql("bob", ttl, path=f"{ORG}/churn/churn-model:v1")
    assert shown["artifactVersion"]["ttlSeconds"] == 30 * 24 * 3600
    again = api.artifact(f"{ORG}/churn/churn-model:v1")
    assert again.ttl == timedelta(days=30)
    again.ttl = None
    again.save()
    shown = live.graphql("bob", ttl, path=f"{ORG}/churn/churn-model:v1")
    assert shown["artifactVersion"]["ttlSeconds"] is None


def test_an_organization_reads_with_its_entity(live: Cairn) -> None:
    organization = live.api("cy").organization(ORG)
    assert organization.name == ORG
    assert organization.org_entity.name == ORG


def test_the_readme_example_runs_as_written(live: Cairn, tmp_path: Path) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Use it from the wandb SDK", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    env = {"WANDB_BASE_URL": live.base_url, "WANDB_API_KEY": live.keys["ada"]}
    printed = run_sdk_script(example, env, tmp_path).splitlines()
    assert printed[0].startswith("v7 0.87 ")
    assert f"{CHURN}:v7" in printed[1:]
    staging = cairn_version(live, f"{CHURN}:staging")
    assert staging["versionIndex"] == 8
    assert "reviewed" in staging["tags"]


def test_what_is_not_supported_says_so_quickly(live: Cairn) -> None:
    with pytest.raises(CommError, match="Cannot query field 'sweep' on type 'Project'"):
        live.api("ada").sweep(f"{ORG}/churn/no-such-sweep")


def test_a_projects_artifacts_and_runs_read_through_the_sdk(live: Cairn) -> None:
    api = live.api("cy")
    types = sorted(t.name for t in api.artifact_types(f"{ORG}/churn"))
    assert "model" in types
    names = [c.name for c in api.artifact_collections(f"{ORG}/churn", "model")]
    assert "churn-model" in names
    in_registry = [c.name for c in api.artifact_collections(MODEL, "model", order="-name")]
    assert len(in_registry) >= 2
    assert in_registry == sorted(in_registry, reverse=True)
    logged = api.artifact_collection("model", f"{ORG}/churn/churn-model")
    versions = [a.version for a in logged.artifacts()]
    assert "v7" in versions
    assert all(a.type == "model" for a in logged.artifacts())

    run = api.run(f"{ORG}/churn/train-7")
    assert run.state == "finished"
    assert run.summary["auc"] == 0.87
    assert [a.name for a in run.logged_artifacts()] == ["churn-model:v7"]
    used = cairn_version(live, f"{CHURN}:production", "cy")["usedBy"]["nodes"]
    reader = api.run(f"{ORG}/churn/{used[0]['name']}")
    assert "churn-model:v7" in [a.source_name for a in reader.used_artifacts()]


def push(live: Cairn, folder: Path, path: str, *more: str) -> None:
    from tests.support.processes import cairn

    env = {**live.env, "CAIRN_URL": live.server.base_url, "CAIRN_API_KEY": live.keys["bob"]}
    pushed = cairn("push", str(folder), path, "--type", "dataset", *more, env=env)
    assert pushed.returncode == 0, pushed.stderr


def test_a_projects_logged_artifact_is_described_renamed_and_deleted(
    live: Cairn, tmp_path: Path
) -> None:
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    push(live, tmp_path, f"{ORG}/churn/sdk-sequence")
    api = live.api("bob")
    sequence = api.artifact_collection("dataset", f"{ORG}/churn/sdk-sequence")
    sequence.description = "rows for the SDK tests"
    sequence.save()
    sequence.name = "sdk-sequence-renamed"
    sequence.save()
    renamed = api.artifact(f"{ORG}/churn/sdk-sequence-renamed:v0")
    assert renamed.collection.description == "rows for the SDK tests"
    with pytest.raises(CommError, match="not found"):
        api.artifact(f"{ORG}/churn/sdk-sequence:v0")
    with pytest.raises(CommError, match="needs the organization role MEMBER"):
        live.api("cy").artifact_collection("dataset", f"{ORG}/churn/sdk-sequence-renamed").delete()
    api.artifact_collection("dataset", f"{ORG}/churn/sdk-sequence-renamed").delete()
    with pytest.raises(CommError, match="not found"):
        api.artifact(f"{ORG}/churn/sdk-sequence-renamed:v0")


def test_a_linked_logged_artifact_stays_until_unlinked(live: Cairn, tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("c,d\n3,4\n")
    push(
        live,
        tmp_path,
        f"{ORG}/churn/sdk-linked-sequence",
        "--link",
        f"{ORG}/wandb-registry-dataset/sdk-linked-sequence",
    )
    api = live.api("bob")
    sequence = api.artifact_collection("dataset", f"{ORG}/churn/sdk-linked-sequence")
    with pytest.raises(CommError, match="linked into registries; unlink them first"):
        sequence.delete()
    assert api.artifact(f"{ORG}/churn/sdk-linked-sequence:v0").version == "v0"
    sequence.tags.append("nope")
    with pytest.raises(CommError, match="hold no tags"):
        sequence.save()
    with pytest.raises(CommError, match="keeps the type it was logged with"):
        api.artifact_collection("dataset", f"{ORG}/churn/sdk-linked-sequence").change_type("model")
