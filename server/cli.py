"""The `cairn` command: serve, migrate, demo, keys."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import asyncpg

from db.blobs import StorageConfigError
from db.migrate import MigrationError
from db.pool import create_pool
from resolvers import accounts
from resolvers.errors import DomainError
from server import logs
from server.database import apply_migrations, require_current_schema, resolve_database
from server.settings import Settings, blob_store, default_data_dir
from server.ui import BUILD_COMMAND, UI_DIR


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
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (default 1; about one per core)",
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="leave webhook delivery to `cairn worker`"
    )
    _add_data_dir(serve)

    worker = commands.add_parser("worker", help="deliver webhooks (any number may run)")
    _add_data_dir(worker)

    commands.add_parser(
        "secret-key", help="print a new key for CAIRN_SECRET_KEY (encrypts automation secrets)"
    )

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
    revoke = key_commands.add_parser(
        "revoke", help="revoke a key (by --key) or a user's keys with a label (--user, --name)"
    )
    revoke.add_argument("--key", default=None, help="the key itself")
    revoke.add_argument("--user", default=None)
    revoke.add_argument("--name", default=None, help="the key label")
    _add_data_dir(revoke)

    orgs = commands.add_parser("orgs", help="manage organizations")
    org_commands = orgs.add_subparsers(dest="orgs_command", required=True)
    new_org = org_commands.add_parser(
        "create",
        help="create an organization with its core registries and first admin, and print a "
        "key for that admin",
    )
    new_org.add_argument("name", help="the organization's slug, e.g. acme")
    new_org.add_argument(
        "--admin", required=True, help="its first admin: an existing user, or a new one"
    )
    new_org.add_argument("--display-name", default="")
    _add_data_dir(new_org)

    users = commands.add_parser("users", help="manage users")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    new_user = user_commands.add_parser("create", help="create a user")
    new_user.add_argument("name")
    new_user.add_argument("--display-name", default="")
    new_user.add_argument("--service", action="store_true", help="a service account")
    new_user.add_argument("--org", default=None, help="add the user to this organization")
    new_user.add_argument(
        "--role", default="MEMBER", choices=("VIEWER", "MEMBER", "ADMIN"), help="with --org"
    )
    _add_data_dir(new_user)

    push = commands.add_parser(
        "push", help="log a folder's files as an artifact version (and link it)"
    )
    push.add_argument("directory", type=Path, help="the folder to send")
    push.add_argument("project_path", help="organization/project/artifact-name")
    push.add_argument("--type", required=True, help="the artifact type, e.g. model")
    push.add_argument("--link", default=None, help="a registry collection path to link into")
    push.add_argument(
        "--alias", action="append", default=[], help="an alias for the link (repeatable)"
    )
    gc = commands.add_parser(
        "gc", help="delete file bytes no version refers to (the worker does it periodically)"
    )
    gc.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    gc.add_argument(
        "--grace",
        type=float,
        default=None,
        help="seconds bytes stay after nothing refers to them (default: $CAIRN_GC_GRACE_SECONDS "
        "or one day)",
    )
    _add_data_dir(gc)
    pull = commands.add_parser("pull", help="download an artifact version's files")
    pull.add_argument(
        "path", help="a version path, e.g. acme/wandb-registry-model/churn:production"
    )
    pull.add_argument("directory", nargs="?", type=Path, default=None, help="default: ./NAME")
    for transfer in (push, pull):
        transfer.add_argument("--url", default=None, help="the server (default: $CAIRN_URL)")
        transfer.add_argument("--key", default=None, help="an API key (default: $CAIRN_API_KEY)")
        transfer.add_argument("--jobs", type=int, default=8, help="parallel transfers")
        transfer.add_argument("--quiet", action="store_true", help="no progress bars")
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
        created = await seed_demo(pool, blob_store(Settings()))
        print(
            "Demo organization `acme` created." if created else "Demo organization `acme` exists.",
            file=sys.stderr,
        )
        return await demo_key(pool)

    return str(asyncio.run(_with_pool(url, work)))


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from server.app import create_app, tune_garbage_collector, worker_environment
    from server.sockets import NoDelayHttpProtocol
    from server.workers import Supervisor

    if args.workers < 1:
        raise SystemExit(f"cairn serve: --workers must be at least 1, not {args.workers}")
    url = _database(args, migrate_embedded=True)
    require_current_schema(url)
    demo_key = None
    if args.demo:
        demo_key = _seed_demo(url)
    settings = Settings(
        host=args.host, port=args.port, graphiql_demo_key=demo_key, run_worker=not args.no_worker
    )
    base = f"http://{args.host}:{args.port}"
    print(f"Cairn web UI: {base}/", file=sys.stderr)
    if not (UI_DIR / "index.html").is_file():
        print(f"  (not built: run `{BUILD_COMMAND}`)", file=sys.stderr)
    print(f"Cairn GraphiQL: {base}/graphql", file=sys.stderr)
    if demo_key:
        print(
            f"API key for ada (sign in to the web UI with it; prefilled in GraphiQL): {demo_key}",
            file=sys.stderr,
        )
        print(
            f"Try: curl -H 'Authorization: Bearer {demo_key}' -H 'Content-Type: application/json'"
            f' -d \'{{"query":"{{ viewer {{ name }} }}"}}\' {base}/graphql',
            file=sys.stderr,
        )
        print(
            f"From the wandb SDK: export WANDB_BASE_URL={base}/wandb WANDB_API_KEY={demo_key}",
            file=sys.stderr,
        )
    # uvicorn re-raises the signal that stopped it once it has shut down. Exiting normally on it
    # lets the embedded PostgreSQL be stopped by its exit handler instead of being orphaned.
    signal.signal(signal.SIGTERM, _exit_quietly)
    signal.signal(signal.SIGINT, _exit_quietly)
    # Cairn's logging for uvicorn's records too; requests are logged by the app, with their ids.
    served = {
        "host": args.host,
        "port": args.port,
        "http": NoDelayHttpProtocol,
        "log_config": None,
        "access_log": False,
    }
    if args.workers == 1:
        tune_garbage_collector()
        uvicorn.run(create_app(settings, database_url=url), **served)
        return
    # Each worker process makes its own app (its pool, listener, delivery worker and collector,
    # all safe side by side) from what this process resolved, passed in the environment.
    os.environ.update(worker_environment(settings, url))
    sys.exit(Supervisor(args.workers, served).run())


def _exit_quietly(signum: int, frame: object) -> None:
    sys.exit(0)


def cmd_worker(args: argparse.Namespace) -> None:
    from server.settings import blob_collector, webhook_policy_from_env
    from server.worker import DeliveryWorker

    url = _database(args, migrate_embedded=True)
    require_current_schema(url)

    async def work() -> None:
        pool = await create_pool(url, max_size=4)
        worker = DeliveryWorker(pool, webhook_policy_from_env())
        collector = blob_collector(Settings(), pool)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        worker.start()
        collector.start()
        print("cairn worker: delivering webhooks, collecting unreferenced blobs", file=sys.stderr)
        try:
            await stop.wait()
        finally:
            await collector.stop()
            await worker.stop()
            await pool.close()

    asyncio.run(work())


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


def _in_transaction(args: argparse.Namespace, work: Any) -> Any:
    """Runs `work(conn)` in one transaction on the command's database; refusals exit 1."""
    url = _database(args, migrate_embedded=True)
    require_current_schema(url)

    async def run(pool: asyncpg.Pool) -> Any:
        async with pool.acquire() as conn, conn.transaction():
            return await work(conn)

    try:
        return asyncio.run(_with_pool(url, run))
    except DomainError as error:
        sys.exit(f"cairn: {error.message}")


def cmd_keys(args: argparse.Namespace) -> None:
    if args.keys_command == "create":
        key = _in_transaction(
            args,
            lambda conn: accounts.create_api_key_txn(
                conn, args.user, organization=args.org, key_name=args.name
            ),
        )
        print(key)
        return
    if (args.key is None) == (args.user is None or args.name is None):
        sys.exit("cairn: give --key KEY, or --user NAME with --name LABEL")
    count = _in_transaction(
        args,
        lambda conn: accounts.revoke_keys_txn(
            conn, key=args.key, owner_name=args.user, key_name=args.name
        ),
    )
    print(f"revoked {count} key(s)")
    if count == 0:
        sys.exit(1)


def cmd_orgs(args: argparse.Namespace) -> None:
    async def create(conn: Any) -> tuple[str, str]:
        org, admin = await accounts.create_organization_with_admin_txn(
            conn, args.name, display_name=args.display_name, admin_name=args.admin
        )
        key = await accounts.create_api_key_txn(conn, admin.name, key_name="first-admin")
        return org.name, key

    name, key = _in_transaction(args, create)
    print(f"created organization {name} with admin {args.admin}", file=sys.stderr)
    print(key)


def cmd_users(args: argparse.Namespace) -> None:
    user = _in_transaction(
        args,
        lambda conn: accounts.create_user_with_membership_txn(
            conn,
            args.name,
            display_name=args.display_name,
            service=args.service,
            organization=args.org,
            role=args.role,
        ),
    )
    kind = "service account" if args.service else "user"
    where = f" in {args.org} as {args.role}" if args.org else ""
    print(f"created {kind} {user.name}{where}")


def _server(args: argparse.Namespace) -> tuple[str, str]:
    url = args.url or os.environ.get("CAIRN_URL") or "http://127.0.0.1:8000"
    key = args.key or os.environ.get("CAIRN_API_KEY")
    if not key:
        sys.exit("cairn: give an API key with --key or CAIRN_API_KEY")
    return url, key


def cmd_gc(args: argparse.Namespace) -> None:
    from datetime import timedelta

    from resolvers.collector import collect

    url = _database(args, migrate_embedded=True)
    require_current_schema(url)
    settings = Settings()
    grace = timedelta(seconds=settings.gc_grace_seconds if args.grace is None else args.grace)

    async def work(pool: asyncpg.Pool) -> str:
        collected = await collect(pool, blob_store(settings), grace, dry_run=args.dry_run)
        return collected.summary()

    summary = asyncio.run(_with_pool(url, work))
    print(f"would delete {summary}" if args.dry_run else f"deleted {summary}")


def cmd_push(args: argparse.Namespace) -> None:
    from client.transfers import ClientError, push

    url, key = _server(args)
    if args.alias and not args.link:
        sys.exit("cairn: --alias names aliases of the link; give --link too")
    try:
        version = asyncio.run(
            push(
                url,
                key,
                args.directory,
                args.project_path,
                args.type,
                link=args.link,
                aliases=args.alias,
                jobs=args.jobs,
                quiet=args.quiet,
            )
        )
    except ClientError as error:
        sys.exit(f"cairn push: {error}")
    print(
        f"logged {version['path']} ({version['uploaded']} files sent, "
        f"{version['skipped']} already stored; {version['sent_bytes']} bytes sent)"
    )
    if "linked" in version:
        linked = version["linked"]
        print(f"linked {linked['path']} [{', '.join(linked['aliases'])}]")


def cmd_pull(args: argparse.Namespace) -> None:
    from client.transfers import ClientError, pull

    url, key = _server(args)
    directory = args.directory or Path(args.path.rsplit("/", 1)[-1].replace(":", "-"))
    try:
        result = asyncio.run(pull(url, key, args.path, directory, jobs=args.jobs, quiet=args.quiet))
    except ClientError as error:
        sys.exit(f"cairn pull: {error}")
    print(
        f"pulled {result['path']} into {directory} ({result['downloaded']} files fetched, "
        f"{result['skipped']} already there)"
    )


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logs.configure()
    if args.command == "schema":
        from schema.schema import schema

        print(schema.as_str())
        return
    if args.command == "secret-key":
        from resolvers.secrets import new_key

        print(new_key())
        return
    commands = {
        "serve": cmd_serve,
        "migrate": cmd_migrate,
        "demo": cmd_demo,
        "keys": cmd_keys,
        "users": cmd_users,
        "orgs": cmd_orgs,
        "worker": cmd_worker,
        "gc": cmd_gc,
        "push": cmd_push,
        "pull": cmd_pull,
    }
    try:
        commands[args.command](args)
    except MigrationError as error:
        sys.exit(f"cairn: the database schema cannot be migrated: {error}")
    except StorageConfigError as error:
        sys.exit(f"cairn: {error}")


if __name__ == "__main__":
    main()
