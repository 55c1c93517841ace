"""The command-line options the benchmarks share, with one default and one help text each.

A benchmark's parser is made in the order its `--help` lists the options: `parser` (with
`--database-url`), its dataset's options (`add_shape` for the registry dataset), `add_load`
(`--concurrency`, `--duration`, `--warmup`), its scenario options, `add_server` (`--pool-size`)
and `add_output` (`--results`, `--no-explain`, `--keep-database`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench.database import DEFAULT_SERVER
from bench.report import RESULTS
from bench.seed import Shape


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A benchmark's parser, with `--database-url`."""
    made = argparse.ArgumentParser(prog=prog, description=description)
    made.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_SERVER,
        help="a PostgreSQL server to create the benchmark database on "
        "(default: $DATABASE_URL, else %(default)s)",
    )
    return made


def add_shape(parser: argparse.ArgumentParser) -> None:
    """The sizes of the registry dataset (`bench.seed.Shape`): `check_shape` checks them once
    parsed, `shape` makes the shape of them."""
    default = Shape()
    parser.add_argument("--registries", type=int, default=default.registries)
    parser.add_argument("--collections", type=int, default=default.collections, help="per registry")
    parser.add_argument("--versions", type=int, default=default.versions, help="per collection")
    parser.add_argument(
        "--dataset-versions",
        type=int,
        default=default.dataset_versions,
        help="length of the dataset chain the training runs used (default: %(default)s)",
    )


def check_shape(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if min(args.registries, args.collections, args.versions) < 1:
        parser.error("--registries, --collections and --versions must be at least 1")


def shape(args: argparse.Namespace) -> Shape:
    return Shape(args.registries, args.collections, args.versions, args.dataset_versions)


def concurrencies(text: str) -> list[int]:
    """`--concurrency`: comma-separated numbers."""
    try:
        return [int(c) for c in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated numbers: {text!r}") from None


def add_load(parser: argparse.ArgumentParser, *, concurrency: str = "1,8") -> None:
    """How each scenario is driven: `args.concurrency` is a list of numbers (`concurrency` by
    default)."""
    parser.add_argument(
        "--concurrency",
        type=concurrencies,
        default=concurrency,
        help="comma-separated numbers of concurrent keep-alive clients (default: %(default)s)",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per run (default: 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds before each run (default: 2)"
    )


def add_server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pool-size", type=int, default=10, help="the server's pool size (default: %(default)s)"
    )


def add_output(parser: argparse.ArgumentParser, *, explain: bool = True) -> None:
    """Where the results go, and whether the database stays (`explain`: with `--no-explain`)."""
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where to write JSON (default: %(default)s)"
    )
    if explain:
        parser.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN output")
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the database at the end"
    )
