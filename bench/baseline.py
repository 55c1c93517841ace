"""Another checkout of Cairn to measure beside this one, in the same run on the same database:
`--baseline REV` makes a git worktree of REV (the code before a change), serves it next to the
current code, and counts its statements with its own code."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.scenario import Scenario
from bench.statements import StatementCount

ROOT = Path(__file__).resolve().parent.parent

# Run inside the baseline's checkout: its own app counts each request's statements.
_COUNT = """
import asyncio, json, sys
from bench.scenario import Scenario
from bench.statements import count_statements

url, key, requests = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
chosen = [Scenario(name, "", query, lambda rng, v=variables: v)
          for name, query, variables in requests]
counts = asyncio.run(count_statements(url, key, chosen))
print(json.dumps({n: [c.statements, c.pool_resets, c.texts] for n, c in counts.items()}))
"""


def checkout(revision: str) -> Path:
    """A worktree of `revision` (made once, kept for later runs)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"cairn-baseline-{commit[:12]}"
    if not path.is_dir():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), commit],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
    return path


def count_baseline_statements(
    root: Path, url: str, key: str, chosen: list[Scenario]
) -> dict[str, StatementCount]:
    """Each scenario's statements as the baseline's code runs its first request (scenarios
    that send their own requests are left out)."""
    requests = [
        (s.name, s.query, s.variables(random.Random(1))) for s in chosen if s.custom is None
    ]
    done = subprocess.run(
        [sys.executable, "-c", _COUNT, url, key, json.dumps(requests)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"counting the baseline's statements failed:\n{done.stderr}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        name: StatementCount(statements=n, pool_resets=resets, texts=texts)
        for name, (n, resets, texts) in found.items()
    }
