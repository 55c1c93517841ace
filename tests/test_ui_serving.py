"""How `cairn serve` serves the web UI, in process: what a browser is told when no build is
there. The UI itself is tested in a real browser in tests/test_ui.py."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette

from server.ui import BUILD_COMMAND, ui_routes


async def test_without_a_build_a_browser_is_told_what_to_run(tmp_path: Path) -> None:
    app = Starlette(routes=ui_routes(tmp_path / "dist"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await client.get("/acme/model", headers={"Accept": "text/html"})
        assets = await client.get("/assets/index.js")
    assert response.status_code == 503
    assert BUILD_COMMAND in response.text
    assert assets.status_code == 404
