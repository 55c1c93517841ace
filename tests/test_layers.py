"""The import-direction check that CI runs: it finds every import that points up the layers or
brings a web or GraphQL library into the lower ones, and lets through only its one exception."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _check_layers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", ROOT / ".ci" / "check_layers.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root: Path, files: dict[str, str]) -> None:
    for layer in ("server", "schema", "resolvers", "db"):
        (root / layer).mkdir()
    for name, text in files.items():
        (root / name).write_text(text)


def test_the_repository_imports_point_one_way() -> None:
    assert _check_layers().violations(ROOT) == []


def test_imports_up_the_layers_and_banned_libraries_are_found(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "schema/fine.py": "from resolvers import x\nfrom db import y\nimport strawberry\n",
            "resolvers/up.py": "from schema.nodes import global_id\nimport db.pool\n",
            "resolvers/web.py": "from starlette.requests import Request\n",
            "db/graphql.py": "import strawberry\nfrom graphql import GraphQLError\n",
            "db/loaders.py": "from strawberry.dataloader import DataLoader\n",
        },
    )
    found = _check_layers().violations(tmp_path)
    assert found == [
        "resolvers/up.py:1: resolvers must not import schema.nodes",
        "resolvers/web.py:1: resolvers must not import starlette.requests",
        "db/graphql.py:1: db must not import strawberry",
        "db/graphql.py:2: db must not import graphql",
        "db/loaders.py:1: db must not import strawberry.dataloader",
    ]
