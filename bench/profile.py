"""Where the server's CPU goes: `py-spy` samples the server process while a scenario runs.

`bench.run --profile DIR` drives each scenario once more, after its measured windows (the
sampler slows the process it watches, so it never runs in a measured window), with `py-spy
record` attached to the server. Each scenario leaves `DIR/<scenario>.txt`: the share of samples
spent in each part of the stack (by the package whose code was running), and the functions with
the most samples of their own and in all. `py-spy` records only threads that are running, so
the shares are of CPU time.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# A frame of py-spy's raw output: `function (path/to/file.py:line)`; with `--function` the line
# is the function's first, so that each function is one frame.
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(:\d+)?\)$")

# With `--native`, the C frames under a Python one: the collector's own, and the rest, which
# count as the Python function that called into them.
GARBAGE_COLLECTION = "garbage collection"
COLLECTOR = re.compile(r"^gc_collect")

# Which part of the stack a file belongs to, first match wins; anything else is "other".
PARTS = [
    ("graphql-core execution", re.compile(r"graphql/execution/")),
    ("graphql-core validation", re.compile(r"graphql/validation/")),
    ("graphql-core parsing", re.compile(r"graphql/language/")),
    ("graphql-core (other)", re.compile(r"(^|/)graphql/")),
    ("strawberry", re.compile(r"(^|/)strawberry/")),
    ("asyncpg", re.compile(r"(^|/)asyncpg/")),
    ("asyncio and uvloop", re.compile(r"(^|/)(asyncio|uvloop)/")),
    (
        "HTTP (uvicorn, starlette, httptools)",
        re.compile(r"(^|/)(uvicorn|starlette|httptools|h11)/"),
    ),
    ("JSON encoding", re.compile(r"(^|/)(orjson|json)/")),
    ("Cairn: schema", re.compile(r"(^|/)schema/")),
    ("Cairn: resolvers", re.compile(r"(^|/)resolvers/")),
    ("Cairn: db", re.compile(r"(^|/)db/")),
    ("Cairn: server", re.compile(r"(^|/)server/")),
]


@dataclass(frozen=True)
class Stack:
    frames: tuple[tuple[str, str], ...]  # (function, file), outermost first
    samples: int


def parse_raw(text: str) -> list[Stack]:
    """py-spy's raw (collapsed) format: one stack per line, `frame;frame;… count`."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for frame in stack.split(";"):
            match = FRAME.match(frame)
            frames.append((match["function"], match["file"]) if match else (frame, ""))
        stacks.append(Stack(tuple(frames), int(count)))
    return stacks


def part_of(file: str) -> str:
    for name, pattern in PARTS:
        if pattern.search(file):
            return name
    return "other"


def is_python(file: str) -> bool:
    return file.endswith(".py") or file.startswith("<")


def innermost(stack: Stack) -> tuple[str, str]:
    """Where a sample counts: the collector, or the innermost Python function (a C function it
    called counts as its own time)."""
    python = [(f, file) for f, file in stack.frames if is_python(file)]
    if any(COLLECTOR.match(f) for f, file in stack.frames if not is_python(file)):
        return GARBAGE_COLLECTION, ""
    return python[-1] if python else stack.frames[-1]


def summarize(stacks: Iterable[Stack], *, top: int = 20) -> str:
    """The shares of samples by part (of the innermost Python frame's file, or the garbage
    collector) and the top functions, by own samples and by samples anywhere on the stack."""
    stacks = list(stacks)
    total = sum(s.samples for s in stacks) or 1
    by_part: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack in stacks:
        if not stack.frames:
            continue
        function, file = innermost(stack)
        if function == GARBAGE_COLLECTION:
            by_part[GARBAGE_COLLECTION] += stack.samples
            own[GARBAGE_COLLECTION] += stack.samples
        else:
            by_part[part_of(file)] += stack.samples
            own[f"{function} ({file})"] += stack.samples
        python = {f"{f} ({path})" for f, path in stack.frames if is_python(path)}
        for name in python:
            inclusive[name] += stack.samples
    # Frames under every sample (the process's main, the event loop's run) say nothing.
    for name in [n for n, count in inclusive.items() if count >= 0.99 * total]:
        del inclusive[name]

    def table(counter: Counter[str], heading: str) -> list[str]:
        rows = [f"| {heading} | samples | share |", "|---|---|---|"]
        for name, count in counter.most_common(top):
            rows.append(f"| `{name}` | {count} | {100 * count / total:.1f}% |")
        return rows

    lines = [f"{total} samples.", "", "By the part of the stack running:", ""]
    lines += table(by_part, "part")
    lines += ["", "Functions by samples of their own (the C code they call included):", ""]
    lines += table(own, "function")
    lines += ["", "Functions by samples in all (anywhere on the stack, below the event loop):", ""]
    lines += table(inclusive, "function")
    return "\n".join(lines) + "\n"


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    return found


async def record(pid: int, seconds: float, *, rate: int = 250) -> list[Stack]:
    """Samples process `pid` for `seconds`: its stacks, with C frames and one frame per
    function."""
    with tempfile.TemporaryDirectory(prefix="cairn-profile-") as directory:
        out = Path(directory) / "stacks.txt"
        await _py_spy(pid, seconds, rate, out)
        return parse_raw(await asyncio.to_thread(out.read_text))


async def _py_spy(pid: int, seconds: float, rate: int, out: Path) -> None:
    command = [
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--function",
        "--native",
        "--output",
        str(out),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')}")
