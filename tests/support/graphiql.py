"""A stand-in for GraphiQL's installed packages, so the page and its assets can be served without
npm."""

from __future__ import annotations

from pathlib import Path

from server.graphiql_page import REQUIRED_ASSETS

# Installed beside the assets, never for the browser.
HIDDEN = (
    "lodash/lodash.js",
    "@graphiql/react/dist/index.js",
    "graphiql/node_modules/@graphiql/react/package.json",
)


def fake_node_modules(root: Path) -> Path:
    """A fake node_modules at `root` holding every required asset plus packages that must stay
    hidden; returns `root`."""
    for asset in REQUIRED_ASSETS:
        path = root / asset
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"/* fake {asset} */\n", encoding="utf-8")
    for hidden in HIDDEN:
        path = root / hidden
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("/* not for the browser */\n", encoding="utf-8")
    (root / "package.json").write_text("{}", encoding="utf-8")
    return root
