"""The web UI at `/`: a single-page app built from `ui/` (Vite, with its npm lockfile) into
`ui/dist`, a client of Cairn's own GraphQL API like any other.

Its assets are served under `/assets/`; every other `GET` a browser makes for a page that no
other route answers gets the app's `index.html`, whose router shows the page. When the UI is not
built, a browser gets a page saying what to run, and the API is unaffected."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

UI_DIR_ENV_VAR = "CAIRN_UI_DIR"
# ui/dist beside the server package, unless CAIRN_UI_DIR points at a build elsewhere.
UI_DIR = Path(os.environ.get(UI_DIR_ENV_VAR) or Path(__file__).resolve().parent.parent / "ui/dist")
BUILD_COMMAND = "npm ci --prefix ui && npm run build --prefix ui"

NOT_BUILT = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cairn: the web UI is not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>The web UI is not built</h1>
<p>This server has no build of Cairn's web UI in <code>{{folder}}</code>. From the repository,
run:</p>
<pre>{BUILD_COMMAND}</pre>
<p>then reload this page (no restart needed). The API works without it:
<a href="/graphql">GraphiQL</a> is at <code>/graphql</code>.</p>
</body></html>
"""


class _Assets(StaticFiles):
    """The build's assets; 404 (never 500) before the UI is built."""

    async def check_config(self) -> None:
        # StaticFiles fails the first request when its folder is missing: here that is only a
        # UI not built yet, whose assets are then as missing as any other.
        return None


def ui_routes(folder: Path = UI_DIR) -> list[BaseRoute]:
    """The UI's assets and its pages; after every other route, since its pages take any path."""

    async def page(request: Request) -> Response:
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"error": f"no such resource: {request.url.path}"}, 404)
        index = folder / "index.html"
        if not index.is_file():
            body = NOT_BUILT.replace("{folder}", str(folder))
            return HTMLResponse(body, status_code=503)
        # The page is tiny and names its hashed assets: never cached, so a new build shows.
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return [
        Mount("/assets", app=_Assets(directory=folder / "assets", check_dir=False)),
        Route("/{path:path}", page, methods=["GET"]),
    ]
