"""Fails when an import points up the layers: server → schema → resolvers → db.

A layer may import any layer below it, never one above, and the lower layers stay free of the
web and GraphQL libraries. Run from the repository root.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LAYERS = ("server", "schema", "resolvers", "db")
# What each layer must never import, besides the layers above it.
FORBIDDEN_LIBRARIES = {
    "resolvers": ("strawberry", "starlette", "graphql"),
    "db": ("strawberry", "starlette", "graphql"),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(root: Path) -> list[str]:
    problems = []
    for rank, layer in enumerate(LAYERS):
        above = LAYERS[:rank]
        banned = above + FORBIDDEN_LIBRARIES.get(layer, ())
        for path in sorted((root / layer).rglob("*.py")):
            if "node_modules" in path.parts:
                continue
            relative = path.relative_to(root).as_posix()
            for line, module in imported_modules(path):
                top = module.split(".")[0]
                if top in banned:
                    problems.append(f"{relative}:{line}: {layer} must not import {module}")
    return problems


def main() -> int:
    problems = violations(Path.cwd())
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} import(s) point the wrong way: {' → '.join(LAYERS)}")
        return 1
    print(f"imports point one way: {' → '.join(LAYERS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
