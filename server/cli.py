"""The `cairn` command: serve, migrate, demo, keys."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import asyncpg

from db.migrate import MigrationError
from db.pool import create_pool
from resolvers import accounts
from resolvers.errors import DomainError
from server.database import apply_migrations, require_current_schema, resolve_database
from server.settings import Settings, default_data_dir


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="embedded PostgreSQL data directory when DATABASE_URL is not set "
        "(default: $CAIRN_DATA_DIR or ~/.cairn/pgdata)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cairn", description="Cairn ML artifact registry")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the GraphQL API and GraphiQL")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="fill the demo org `acme` first")
    _add_data_dir(serve)

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.add_argument(
        "--check", action="store_true", help="apply nothing; exit 1 when migrations are pending"
    )
    _add_data_dir(migrate)

    demo = commands.add_parser("demo", help="fill the demo org `acme` when it does not exist")
    _add_data_dir(demo)

    commands.add_parser("schema", help="print the GraphQL schema (SDL) to stdout")

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="print a new API key for a user")
    create.add_argument("--user", required=True)
    create.add_argument("--org", default=None, help="require the user to belong to this org")
    create.add_argument("--name", default="cli", help="a label for the key")
    _add_data_dir(create)
    return parser


def _database(args: argparse.Namespace, *, migrate_embedded: bool) -> str:
    url, embedded = resolve_database(args.data_dir or default_data_dir())
    if embedded and migrate_embedded:
        # The embedded database is Cairn's own: it migrates itself.
        apply_migrations(url)
    return url


async def _with_pool(url: str, work: object) -> object:
    pool = await create_pool(url, max_size=2)
    try:
        return await work(pool)  # type: ignore[operator]
    finally:
        await pool.close()


def _seed_demo(url: str) -> str:
    from server.demo import demo_key, seed_demo

    async def work(pool: asyncpg.Pool) -> str:
        created = await seed_demo(pool)
        print(
            "Demo organization `acme` created." if created else "Demo organization `acme` exists.",
            file=sys.stderr,
        )
        return await demo_key(pool)

    return str(asyncio.run(_with_pool(url, work)))


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from server.app import create_app

    url = _database(args, migrate_embedded=True)
    require_current_schema(url)
    demo_key = None
    if args.demo:
        demo_key = _seed_demo(url)
    settings = Settings(host=args.host, port=args.port, graphiql_demo_key=demo_key)
    base = f"http://{args.host}:{args.port}"
    print(f"Cairn GraphiQL: {base}/graphql", file=sys.stderr)
    if demo_key:
        print(f"API key for ada (prefilled in GraphiQL): {demo_key}", file=sys.stderr)
        print(
            f"Try: curl -H 'Authorization: Bearer {demo_key}' -H 'Content-Type: application/json'"
            f' -d \'{{"query":"{{ viewer {{ name }} }}"}}\' {base}/graphql',
            file=sys.stderr,
        )
    app = create_app(settings, database_url=url)
    # uvicorn re-raises the signal that stopped it once it has shut down. Exiting normally on it
    # lets the embedded PostgreSQL be stopped by its exit handler instead of being orphaned.
    signal.signal(signal.SIGTERM, _exit_quietly)
    signal.signal(signal.SIGINT, _exit_quietly)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


def _exit_quietly(signum: int, frame: object) -> None:
    sys.exit(0)


def cmd_migrate(args: argparse.Namespace) -> None:
    from server.database import pending

    url = _database(args, migrate_embedded=False)
    if args.check:
        todo = pending(url)
        if todo:
            print(f"{len(todo)} pending migration(s): {', '.join(todo)}")
            sys.exit(1)
        print("the database schema is current")
        return
    applied = apply_migrations(url)
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


def cmd_demo(args: argparse.Namespace) -> None:
    url = _database(args, migrate_embedded=True)
    require_current_schema(url)
    key = _seed_demo(url)
    print(f"API key for ada: {key}", file=sys.stderr)
    print(
        "Start the server with `cairn serve` and open http://127.0.0.1:8000/graphql",
        file=sys.stderr,
    )


def cmd_keys_create(args: argparse.Namespace) -> None:
    url = _database(args, migrate_embedded=True)
    require_current_schema(url)

    async def work(pool: asyncpg.Pool) -> str:
        async with pool.acquire() as conn:
            return await accounts.create_api_key(
                conn, args.user, organization=args.org, key_name=args.name
            )

    try:
        key = asyncio.run(_with_pool(url, work))
    except DomainError as error:
        sys.exit(f"cairn: {error.message}")
    print(key)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    args = _parser().parse_args(argv)
    if args.command == "schema":
        from schema.schema import schema

        print(schema.as_str())
        return
    commands = {"serve": cmd_serve, "migrate": cmd_migrate, "demo": cmd_demo}
    try:
        commands.get(args.command, cmd_keys_create)(args)
    except MigrationError as error:
        sys.exit(f"cairn: the database schema cannot be migrated: {error}")


if __name__ == "__main__":
    main()
