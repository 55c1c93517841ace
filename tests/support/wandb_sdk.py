"""The real `wandb` SDK against a live `cairn serve`: the server on a fresh database with the
demo data, keys for each role, the SDK's own directories kept in a temporary folder, and Cairn's
own GraphQL API beside it to check what the SDK did."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.databases import new_database
from tests.support.processes import Server, cairn, cairn_env, the_key

# Where the SDK finds the W&B dialect, under the server's address.
WANDB_PATH = "/wandb"
# Any connection the SDK tries to make beyond this machine goes to a closed local port and fails
# at once: a test that passes did not wait on the internet.
NO_INTERNET = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


@dataclass
class Cairn:
    """A live server with the demo organization `acme`: ada (admin), bob (member), cy (viewer),
    and dora, admin of `globex` only."""

    server: Server
    keys: dict[str, str]
    # The environment of the server's `cairn` commands.
    env: dict[str, str]
    apis: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url + WANDB_PATH

    def api(self, user: str) -> Any:
        """The SDK's public API as `user`, made once per user."""
        import wandb

        if user not in self.apis:
            self.apis[user] = wandb.Api(
                api_key=self.keys[user], overrides={"base_url": self.base_url}, timeout=30
            )
        return self.apis[user]

    def graphql(self, user: str, query: str, **variables: Any) -> dict[str, Any]:
        """Cairn's own API, as `user`; fails on any error."""
        response = httpx.post(
            f"{self.server.base_url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.keys[user]}"},
            timeout=30,
        )
        body: dict[str, Any] = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    def mutate(
        self, user: str, field: str, selection: str, input_type: str = "", **input: Any
    ) -> dict[str, Any]:
        """A Cairn mutation that must succeed (its input type named after it unless given);
        its payload."""
        input_type = input_type or f"{field[0].upper()}{field[1:]}Input"
        data = self.graphql(
            user,
            f"mutation($input: {input_type}!) "
            f"{{ {field}(input: $input) {{ {selection} errors {{ code message }} }} }}",
            input=input,
        )
        payload: dict[str, Any] = data[field]
        assert payload["errors"] == [], payload
        return payload

    def registry_id(self, name: str) -> str:
        """The global ID of a registry of `acme`."""
        found: str = self.graphql(
            "ada",
            'query($name: String!) { registry(organization: "acme", name: $name) { id } }',
            name=name,
        )["registry"]["id"]
        return found

    def watch_links(self, name: str, collection: str, url: str) -> None:
        """An automation of the `model` registry (made by ada) that posts each link into the
        collection named `collection` to `url`."""
        self.mutate(
            "ada",
            "createAutomation",
            "automation { id }",
            registryId=self.registry_id("model"),
            name=name,
            events=["LINK_ARTIFACT"],
            filterRegex=f"^{collection}$",
            webhookUrl=url,
            secret="s3cret",
        )


def start_cairn(env: dict[str, str], log_dir: Path) -> Cairn:
    """Migrates and fills the database, makes a key per user, and starts the server."""
    for step in (("migrate",), ("demo",)):
        done = cairn(*step, env=env)
        assert done.returncode == 0, done.stderr
    keys = {
        user: the_key(cairn("keys", "create", "--user", user, "--org", "acme", env=env))
        for user in ("ada", "bob", "cy")
    }
    keys["dora"] = the_key(cairn("orgs", "create", "globex", "--admin", "dora", env=env))
    server = Server([], env, log_dir)
    server.wait_healthy()
    return Cairn(server=server, keys=keys, env=env)


@asynccontextmanager
async def live_cairn(server_url: str, tmp_path_factory: Any, name: str) -> AsyncIterator[Cairn]:
    """A live server on a database of its own (webhooks allowed to this machine, retried
    quickly), with the SDK's directories under a temporary folder; stopped cleanly, without a
    traceback in its output, at the end."""
    async with new_database(server_url) as url:
        env = cairn_env(
            tmp_path_factory.mktemp(f"xdg-{name}"),
            DATABASE_URL=url,
            CAIRN_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
            CAIRN_WEBHOOK_RETRY_BASE_SECONDS="0.05",
        )
        started = start_cairn(env, tmp_path_factory.mktemp(f"{name}-logs"))
        try:
            with sdk_directories(tmp_path_factory.mktemp(f"{name}-sdk")):
                yield started
            assert started.server.stop() == 0, started.server.output
            assert "Traceback" not in started.server.output
        finally:
            started.server.kill()


@contextmanager
def sdk_directories(root: Path) -> Iterator[None]:
    """Keeps the SDK's settings, caches and staging files under `root` for the duration, and
    every connection it makes on this machine."""
    settings = {
        "WANDB_CONFIG_DIR": str(root / "config"),
        "WANDB_CACHE_DIR": str(root / "cache"),
        "WANDB_DATA_DIR": str(root / "data"),
        "WANDB_DIR": str(root / "runs"),
        "WANDB_ARTIFACT_DIR": str(root / "artifacts"),
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_SILENT": "true",
        **NO_INTERNET,
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_sdk_script(script: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    """Runs a Python script that uses the SDK in a fresh process with exactly `env` (plus what
    a process needs to start), and returns what it printed; fails with its output otherwise."""
    base = {name: os.environ[name] for name in ("PATH", "LANG") if name in os.environ}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**base, "HOME": str(cwd), **NO_INTERNET, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
