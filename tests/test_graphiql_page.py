"""The self-hosted GraphiQL page: no external hosts, safe placeholders, assets mount limits.

Install-independent: every test builds its own assets folder in tmp_path (the real npm
packages are not needed), so nothing here is skipped on a machine without node_modules.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from server.graphiql_page import (
    ASSETS_URL_PREFIX,
    DEFAULT_QUERY,
    INSTALL_COMMAND,
    REQUIRED_ASSETS,
    TEMPLATE_PATH,
    assets_installed,
    graphiql_assets_app,
    render_graphiql,
)
from tests.support.graphiql import fake_node_modules

CONTENT_TYPES = {".js": "javascript", ".css": "text/css"}


def make_client(assets_dir: Path, demo_key: str | None = None) -> TestClient:
    async def graphiql(request: Request) -> Response:
        return render_graphiql(demo_key, assets_dir)

    app = Starlette(
        routes=[
            Route("/graphiql", graphiql),
            Mount("/graphiql/assets", app=graphiql_assets_app(assets_dir)),
        ]
    )
    return TestClient(app)


def script_literal(page: str, name: str) -> str:
    """The JSON literal assigned to ``var NAME = ...;`` in the page's inline script."""
    match = re.search(rf"var {name} = (.*);\n", page)
    assert match is not None, f"{name} not found in page"
    return match.group(1)


class ScriptCollector(HTMLParser):
    """Collects the script elements exactly as an HTML parser splits the page into them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append("")
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def scripts_of(page: str) -> list[str]:
    collector = ScriptCollector()
    collector.feed(page)
    collector.close()
    return collector.scripts


def page_urls(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page)


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    return fake_node_modules(tmp_path / "node_modules")


def test_page_loads_only_local_assets(assets: Path) -> None:
    response = make_client(assets).get("/graphiql")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<title>Cairn GraphiQL</title>" in page
    assert "{{" not in page, "an unfilled placeholder is left"

    urls = [url for url in page_urls(page) if not url.startswith("data:")]
    assets_urls = sorted(url.removeprefix(ASSETS_URL_PREFIX) for url in urls)
    assert all(url.startswith(ASSETS_URL_PREFIX) for url in urls), urls
    assert assets_urls == sorted(REQUIRED_ASSETS)

    # No URL to any other host anywhere in the page (scripts, styles, fetcher, comments).
    assert re.findall(r"https?://", page, flags=re.IGNORECASE) == []
    assert "//unpkg" not in page.lower()
    assert "cdn" not in page.lower()
    assert "fetch('/graphql'" in page
    assert "application/graphql-response+json, application/json" in page
    assert "isHeadersEditorEnabled: true" in page
    assert "shouldPersistHeaders: true" in page
    assert "explorerPlugin()" in page

    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "connect-src 'self'" in csp


def test_template_names_each_required_asset() -> None:
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    assert "{{DEFAULT_HEADERS}}" in template
    assert "{{DEFAULT_QUERY}}" in template
    for asset in REQUIRED_ASSETS:
        assert ASSETS_URL_PREFIX + asset in template


def test_demo_key_lands_in_default_headers(assets: Path) -> None:
    page = make_client(assets, demo_key="cairn_demo_abc123").get("/graphiql").text
    headers_text = json.loads(script_literal(page, "DEFAULT_HEADERS"))
    assert json.loads(headers_text) == {"Authorization": "Bearer cairn_demo_abc123"}
    assert json.loads(script_literal(page, "DEFAULT_QUERY")) == DEFAULT_QUERY


def test_no_demo_key_gives_empty_headers(assets: Path) -> None:
    page = make_client(assets, demo_key=None).get("/graphiql").text
    assert script_literal(page, "DEFAULT_HEADERS") == '""'
    assert "Bearer" not in scripts_of(page)[-1]


@pytest.mark.parametrize(
    "key",
    [
        "</script><script>alert(1)</script>",
        "</SCRIPT ><script>alert(1)</script>",
        "<!--<script>",
        '"; alert(1); var x="',
        "{{DEFAULT_QUERY}}",
        "line\u2028sep\u2029end",
    ],
)
def test_malicious_key_cannot_break_out_of_script(assets: Path, key: str) -> None:
    response = make_client(assets, demo_key=key).get("/graphiql")
    assert response.status_code == 200
    page = response.text

    # Exactly the template's own script elements, none injected, none closed early: the
    # inline script, as the HTML parser cuts it, still holds the whole headers literal.
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    scripts = scripts_of(page)
    assert len(scripts) == len(scripts_of(template))
    assert "var DEFAULT_HEADERS = " + script_literal(page, "DEFAULT_HEADERS") in scripts[-1]
    assert "root.render(" in scripts[-1]
    assert page.lower().count("</script") == template.lower().count("</script")
    # "<!--" would put the tokenizer in the script-escaped state, where "<script" nests.
    assert "<!--" not in scripts[-1]
    assert "\u2028" not in page
    assert "\u2029" not in page

    literal = script_literal(page, "DEFAULT_HEADERS")
    assert "</" not in literal
    if "</" in key:
        assert "<\\/script>" in literal
    # The literal still decodes to exactly the headers with the key, unchanged.
    assert json.loads(json.loads(literal)) == {"Authorization": f"Bearer {key}"}
    # A placeholder inside the key is not substituted a second time.
    assert json.loads(script_literal(page, "DEFAULT_QUERY")) == DEFAULT_QUERY


def test_missing_assets_gives_install_instructions(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-node_modules"
    assert not assets_installed(missing)
    client = make_client(missing, demo_key="cairn_demo_abc123")

    response = client.get("/graphiql")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert INSTALL_COMMAND == "npm ci --prefix server/graphiql"
    assert "npm ci --prefix server/graphiql" in response.text
    assert "POST /graphql" in response.text
    assert "not installed" in response.text
    assert "cairn_demo_abc123" not in response.text
    assert "<script" not in response.text

    # The asset mount answers 404, not a 500 from StaticFiles' missing-directory check.
    asset = client.get(ASSETS_URL_PREFIX + REQUIRED_ASSETS[0])
    assert asset.status_code == 404


def test_partial_install_counts_as_missing(assets: Path) -> None:
    (assets / REQUIRED_ASSETS[-1]).unlink()
    assert not assets_installed(assets)
    assert make_client(assets).get("/graphiql").status_code == 503


@pytest.mark.parametrize("asset", REQUIRED_ASSETS)
def test_required_assets_are_served(assets: Path, asset: str) -> None:
    assert assets_installed(assets)
    response = make_client(assets).get(ASSETS_URL_PREFIX + asset)
    assert response.status_code == 200
    assert response.text == f"/* fake {asset} */\n"
    expected = CONTENT_TYPES[Path(asset).suffix]
    assert expected in response.headers["content-type"]


@pytest.mark.parametrize(
    "path",
    [
        "lodash/lodash.js",
        "@graphiql/react/dist/index.js",
        "graphiql/node_modules/@graphiql/react/package.json",
        "package.json",
        "graphiql/../lodash/lodash.js",
        "react/../../secret.txt",
        "",
        "react",
        "@graphiql",
    ],
)
def test_paths_outside_allowed_packages_are_404(assets: Path, path: str) -> None:
    (assets.parent / "secret.txt").write_text("secret", encoding="utf-8")
    response = make_client(assets).get(ASSETS_URL_PREFIX + path)
    assert response.status_code == 404
    assert "not for the browser" not in response.text
    assert "secret" not in response.text
