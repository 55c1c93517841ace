"""Cairn's self-hosted GraphiQL page: no CDN, every browser asset is served by Cairn itself.

The browser assets are the npm packages pinned in ``server/graphiql/package-lock.json``
(GraphiQL 3.8.3, React 18.2.0, @graphiql/plugin-explorer 1.0.2), installed with
``npm ci --prefix server/graphiql`` into ``server/graphiql/node_modules``. ``server/app.py``
serves the page on ``/graphql`` itself, to a browser's ``GET`` (``Accept: text/html``, no
``query``), and the assets beside it::

    Route("/graphql", graphql, methods=["GET", "POST"])  # render_graphiql(...) for browsers
    Mount("/graphiql/assets", app=graphiql_assets_app(ASSETS_DIR))

When the assets are not installed the page answers 503 with instructions, the asset mount
answers 404, and the API itself (POST /graphql) is unaffected.
"""

from __future__ import annotations

import html
import json
import os
import re
from functools import cache
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = [
    "ALLOWED_PACKAGES",
    "ASSETS_DIR",
    "ASSETS_ENV_VAR",
    "ASSETS_URL_PREFIX",
    "DEFAULT_QUERY",
    "INSTALL_COMMAND",
    "REQUIRED_ASSETS",
    "TEMPLATE_PATH",
    "assets_installed",
    "graphiql_assets_app",
    "render_graphiql",
]

GRAPHIQL_DIR = Path(__file__).resolve().parent / "graphiql"
TEMPLATE_PATH = GRAPHIQL_DIR / "index.html"

ASSETS_ENV_VAR = "CAIRN_GRAPHIQL_ASSETS"
# The node_modules folder beside index.html, unless CAIRN_GRAPHIQL_ASSETS points elsewhere
# (e.g. a read-only copy baked into an image).
ASSETS_DIR: Path = Path(os.environ.get(ASSETS_ENV_VAR) or GRAPHIQL_DIR / "node_modules")

ASSETS_URL_PREFIX = "/graphiql/assets/"
INSTALL_COMMAND = "npm ci --prefix server/graphiql"

# Every file index.html loads, relative to the node_modules folder (and to ASSETS_URL_PREFIX).
REQUIRED_ASSETS: tuple[str, ...] = (
    "react/umd/react.production.min.js",
    "react-dom/umd/react-dom.production.min.js",
    "graphiql/graphiql.min.js",
    "graphiql/graphiql.min.css",
    "@graphiql/plugin-explorer/dist/index.umd.js",
    "@graphiql/plugin-explorer/dist/style.css",
)

# Package folders the asset mount may serve from; anything else in node_modules is a 404.
ALLOWED_PACKAGES: tuple[tuple[str, ...], ...] = (
    ("react",),
    ("react-dom",),
    ("graphiql",),
    ("@graphiql", "plugin-explorer"),
)

DEFAULT_QUERY = """\
# Welcome to Cairn. Try: Ctrl-Enter to run.
query Demo {
  viewer { name }
  organization(name: "acme") {
    registries(first: 10) {
      totalCount
      nodes {
        name
        fullName
        collections(first: 5) {
          nodes {
            name
            type
            versions(first: 3) { nodes { version aliases tags } }
          }
        }
      }
    }
  }
}
"""

# The page only talks to its own origin; the browser enforces that no other host is contacted.
_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    )
)

_PLACEHOLDER = re.compile(r"\{\{(DEFAULT_HEADERS|DEFAULT_QUERY)\}\}")


def assets_installed(assets_dir: Path) -> bool:
    """True when every file the GraphiQL page loads exists under ``assets_dir``."""
    return all((assets_dir / asset).is_file() for asset in REQUIRED_ASSETS)


def _script_string(value: str) -> str:
    """``value`` as a JavaScript string literal that is safe inside an HTML <script> element.

    JSON (ASCII-only, so U+2028/U+2029 come out escaped too) is valid JavaScript; on top of it
    ``</`` becomes ``<\\/`` (so no ``</script>`` can close the element) and ``<!--`` is broken
    up (it would switch the HTML tokenizer into the script-escaped state).
    """
    return json.dumps(value).replace("</", "<\\/").replace("<!--", "\\u003c!--")


def _default_headers(demo_key: str | None) -> str:
    """Initial text of GraphiQL's headers editor: the demo key as a bearer token, if any."""
    if not demo_key:
        return ""
    return json.dumps({"Authorization": f"Bearer {demo_key}"}, indent=2)


@cache
def _template(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def render_graphiql(demo_key: str | None, assets_dir: Path) -> HTMLResponse:
    """The GraphiQL page, or a 503 page with install instructions when assets are missing."""
    if not assets_installed(assets_dir):
        return _missing_assets_page()
    values = {
        "DEFAULT_HEADERS": _script_string(_default_headers(demo_key)),
        "DEFAULT_QUERY": _script_string(DEFAULT_QUERY),
    }
    # One pass, so a value that itself contains a placeholder is never substituted again.
    page = _PLACEHOLDER.sub(lambda m: values[m.group(1)], _template(TEMPLATE_PATH))
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": _CONTENT_SECURITY_POLICY,
            # The page may carry a demo key in its default headers.
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _missing_assets_page() -> HTMLResponse:
    command = html.escape(INSTALL_COMMAND)
    body = f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Cairn GraphiQL: assets not installed</title>
  </head>
  <body>
    <h1>Cairn GraphiQL: assets not installed</h1>
    <p>The GraphiQL browser assets are not installed on this server, so the in-browser
    IDE cannot be shown. Cairn serves them itself (no CDN) from the npm packages pinned in
    <code>server/graphiql/package-lock.json</code>.</p>
    <p>To fix it, run this in the Cairn checkout, then reload this page:</p>
    <pre><code>{command}</code></pre>
    <p>(Or point the <code>{ASSETS_ENV_VAR}</code> environment variable at an installed
    <code>node_modules</code> folder.)</p>
    <p>The GraphQL API itself is unaffected: it still answers <code>POST /graphql</code>.</p>
  </body>
</html>
"""
    return HTMLResponse(
        body, status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "3600"}
    )


def _is_allowed(path: str) -> bool:
    parts = Path(path).parts
    if "node_modules" in parts:  # nested dependencies are not part of the page
        return False
    return any(
        len(parts) > len(package) and parts[: len(package)] == package
        for package in ALLOWED_PACKAGES
    )


class _GraphiQLAssets(StaticFiles):
    """StaticFiles limited to the packages the page loads; 404 (never 500) when not installed."""

    async def check_config(self) -> None:
        # StaticFiles raises RuntimeError (a 500) on the first request when the directory is
        # missing; a missing install is an expected state here, answered with 404s instead.
        return None

    async def get_response(self, path: str, scope: Scope) -> Response:
        # ``path`` is already normalised (no '..' or '.'), so this check cannot be bypassed.
        if not _is_allowed(path):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def graphiql_assets_app(assets_dir: Path) -> StaticFiles:
    """The ASGI app to mount at ``/graphiql/assets``: the allowed packages of ``assets_dir``."""
    return _GraphiQLAssets(directory=assets_dir, check_dir=False)
