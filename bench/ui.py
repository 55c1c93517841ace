"""Cairn's web UI benchmark: its pages in a real browser on a registry of 100,000 versions, and
the GraphQL requests each page sends, replayed over HTTP.

    python -m bench.ui            # or: python bench/ui.py
    python -m bench.ui --help

It builds the UI (`npm run build` in ui/, so that the current UI is measured), seeds the
registry dataset of `bench.run` shaped as ONE registry, `bench-00`, of 100 collections x 1,000
versions (with lineage, aliases, alias history and audit events), starts the real server
(uvicorn, one process, which serves the built UI at `/`), and for each page of the UI:

1. **In the browser**: Debian's Chromium (headless, through Playwright), signed in as the
   benchmark's member (an organization MEMBER: its key in localStorage, where the sign-in form
   keeps it), loads the page in a fresh tab: once to record every GraphQL request it sends to
   `/graphql` (as urql sends them: GET for a query short enough, else POST, with its
   `operationName`, `query` and `variables`), then `--loads` times timed from navigation to the
   moment the page's data is drawn (selectors that only appear once it is).
2. **Statements**: each recorded request, replayed in process, has its statements counted.
3. **Over HTTP**: one iteration sends all of the page's recorded requests at once, over up to
   six keep-alive connections per concurrent client as a browser opens to one host, and is timed
   whole: a "request" of the load is a page load.

The websocket subscription the collection page opens once its data is shown (`registryEvents`,
live changes) is neither timed nor replayed. Results go into the `ui` key of bench/results.json;
the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from playwright.async_api import BrowserContext, Request, async_playwright

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/ui.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from bench import options  # noqa: E402
from bench.database import benchmark_database, migrated  # noqa: E402
from bench.load import LoadResult, drive_each, percentile, warn_of_failures  # noqa: E402
from bench.report import (  # noqa: E402
    load_cells,
    machine,
    markdown_row,
    run_benchmark,
    server_and_client,
)
from bench.scenario import Scenario, custom_scenario, failed, headers  # noqa: E402
from bench.seed import ORGANIZATION, collection_name, registry_name, seed  # noqa: E402
from bench.server import Server, serving  # noqa: E402
from bench.statements import StatementCount, count_statements  # noqa: E402
from server.ui import UI_DIR  # noqa: E402
from tests.support.browser import build_ui, chromium  # noqa: E402

GRAPHQL = "/graphql"
REFUSED = "PERMISSION_DENIED"  # the error code of a field the caller may not see
STORED_KEY = "cairn.apiKey"  # ui/src/session.ts
# The collection the collection and version pages show.
COLLECTION = 42
# The search page's query: free text every registry version matches, narrowed by a tag. (Typing
# a collection's name, `collection-042`, finds nothing: PostgreSQL's `simple` parser reads
# `-042` as a signed number, and the query's word `042` does not match it.)
SEARCH_TEXT = "model"
SEARCH_TAG = "candidate"
# A browser opens up to six HTTP/1.1 connections to one host.
BROWSER_CONNECTIONS = 6
# How long a page load's pooled connection stays open idle: less than the 5 s after which
# uvicorn closes one, which would otherwise race a request sent on it (httpx does not retry it,
# a browser does). Slow pages leave some of the pool idle that long.
KEEPALIVE_SECONDS = 4.0
# How long a page may take to draw before the benchmark gives up on it.
READY_TIMEOUT_MS = 30_000
# When, from the navigation's start, the page's first GraphQL request went out and its last was
# answered (requests still in flight have no entry yet).
GRAPHQL_TIMING = """() => {
  const sent = performance.getEntriesByType("resource")
    .filter((entry) => new URL(entry.name).pathname === "/graphql");
  return [Math.min(...sent.map((e) => e.startTime)), Math.max(...sent.map((e) => e.responseEnd))];
}"""

# The cursor of the collection's deep page, paged to through the API as the UI's "Older
# versions" button pages (its `after` is the last page's `endCursor`).
VERSIONS_CURSOR = """query DeepCursor($organization: String!, $registry: String!, $name: String!,
    $first: Int!, $after: String) {
  registry(organization: $organization, name: $registry) {
    collection(name: $name) { versions(first: $first, after: $after) { pageInfo { endCursor } } }
  }
}"""


@dataclass(frozen=True, slots=True)
class UiPage:
    name: str
    path: str  # the URL's path and query string
    description: str
    # Shown only once the page's data is drawn: the load is timed until all are visible.
    ready: tuple[str, ...]
    # Clicked once ready (the administration panel's summary), then `opened` waited for.
    click: str | None = None
    opened: tuple[str, ...] = ()
    # The text the first match of a selector must have once ready: the page shows what it should.
    shows: tuple[str, str] | None = None


def refused_fields(content: bytes) -> tuple[str, ...] | None:
    """The fields a GraphQL answer refused the caller (`PERMISSION_DENIED`), by path; None when
    it carries any other error, or is no GraphQL answer."""
    try:
        errors = json.loads(content).get("errors") or []
    except ValueError:
        return None
    if any((e.get("extensions") or {}).get("code") != REFUSED for e in errors):
        return None
    return tuple(sorted(".".join(map(str, e.get("path") or [])) for e in errors))


@dataclass(frozen=True, slots=True)
class Recorded:
    """One GraphQL request as the browser sent it, replayed byte for byte."""

    method: str  # GET for a query whose URL fits, else POST (urql's choice)
    target: str  # path and query string
    body: str | None  # POST's JSON text
    # The fields the server refused the member when the browser sent it: the same refusal in a
    # replayed answer is what the page expects, not a failure.
    refused: tuple[str, ...]

    @classmethod
    async def of(cls, request: Request) -> Recorded:
        url = urlsplit(request.url)
        target = f"{url.path}?{url.query}" if url.query else url.path
        body = request.post_data if request.method == "POST" else None
        response = await request.response()
        if response is None:
            raise RuntimeError(f"no answer to {request.method} {target}")
        refused = refused_fields(await response.body())
        if refused is None:
            raise RuntimeError(f"{request.method} {target} failed: {await response.text()}")
        return cls(request.method, target, body, refused)

    def operation(self) -> dict[str, Any]:
        """Its operationName, variables and query, whichever way they were sent."""
        if self.body is not None:
            sent: dict[str, Any] = json.loads(self.body)
        else:
            sent = dict(parse_qsl(urlsplit(self.target).query))
            sent["variables"] = json.loads(sent.get("variables") or "{}")
        return {
            "method": self.method,
            "operationName": sent.get("operationName"),
            "variables": sent.get("variables") or {},
            "query": sent["query"],
        }

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        """Sends it again: the answer, or (the refusal expected) its data alone, as a 200. With
        a refusal the server answers 294, partial success, to a client that accepts
        `application/graphql-response+json` (as urql and the benchmark's clients do)."""
        if self.body is None:
            response = await client.get(self.target)
        else:
            response = await client.post(
                self.target, content=self.body, headers={"Content-Type": "application/json"}
            )
        if not self.refused or refused_fields(response.content) != self.refused:
            return response
        data = {"data": response.json()["data"]}
        return httpx.Response(200, json=data, request=response.request)


@dataclass(frozen=True, slots=True)
class Load:
    """One timed load of a page in the browser, in milliseconds."""

    ready_ms: float  # from `goto` to its data drawn
    requests: int  # the GraphQL requests it had sent by then
    # From the navigation's start (the Resource Timing API): when the first GraphQL request went
    # out (the page and its scripts loaded and run) and when the last one was answered.
    first_request_ms: float
    answered_ms: float


@dataclass(slots=True)
class PageRun:
    """What the browser did with one page: its recorded requests and its timed loads."""

    page: UiPage
    recorded: list[Recorded]
    loads: list[Load]

    def p(self, field: str, fraction: float) -> float:
        """A percentile of one of the loads' times."""
        return round(percentile(sorted(getattr(load, field) for load in self.loads), fraction), 1)


def ui_pages(collection: str, versions: int, deep_cursor: str, deep: int) -> list[UiPage]:
    registry = f"/{ORGANIZATION}/{registry_name(0)}"
    at = f"{registry}/{collection}"
    history = "table.history tbody tr"
    return [
        UiPage(
            "home",
            "/",
            "the organizations and their registries, with each registry's collection count",
            ("table.registries tbody tr",),
        ),
        UiPage(
            "organization",
            f"/{ORGANIZATION}",
            "the organization's members and teams",
            ("table.members tbody tr",),
        ),
        UiPage(
            "registry",
            registry,
            "the registry's first 50 collections (each with its version count) and its history",
            ("table.collections tbody tr", history),
        ),
        UiPage(
            "collection",
            at,
            "the collection's newest 50 versions (aliases, tags, size) and its history",
            ("table.versions tbody tr", history),
            shows=("table.versions tbody td", f"v{versions - 1}"),
        ),
        UiPage(
            "collection-deep",
            f"{at}?after={quote(deep_cursor, safe='')}",
            f'the same collection {deep:,} versions down (`?after=<cursor>`, the "Older '
            "versions\" button's page)",
            ("table.versions tbody tr", history),
            shows=("table.versions tbody td", f"v{versions - deep - 1}"),
        ),
        UiPage(
            "version",
            f"{at}/production",
            "the version holding `production`: its details, files and the lineage picture "
            "(upstream, depth 3, its code loaded when first shown), drawn",
            ("table.files tbody tr", "[data-testid=lineage-graph][data-nodes]"),
        ),
        UiPage(
            "search",
            f"/search?q={SEARCH_TEXT}&tag={SEARCH_TAG}",
            f"free text `{SEARCH_TEXT}` (in every registry version's description) and the tag "
            f"`{SEARCH_TAG}` (the newest three versions of each collection): the first 10 "
            "collections and 25 versions, by relevance, each list with its total count",
            ("ul.versions-found li",),
        ),
        UiPage(
            "administration",
            registry,
            "the registry page, then its Administration panel opened (members, protected "
            "aliases, automations); the member is no registry admin, it shows what the server "
            "lets it see",
            ("table.collections tbody tr", history),
            click=".admin-panel summary",
            opened=("section.admin",),
        ),
    ]


# --- the browser ------------------------------------------------------------------------------


async def load_page(
    context: BrowserContext, base_url: str, page: UiPage, *, record: bool
) -> tuple[Load, list[Recorded]]:
    """Loads the page in a fresh tab: its times, and (`record`) the GraphQL requests it sends
    until the network is quiet, having checked what it shows."""
    tab = await context.new_page()
    sent: list[Request] = []

    def on_request(request: Request) -> None:
        if urlsplit(request.url).path == GRAPHQL and request.method in ("GET", "POST"):
            sent.append(request)

    tab.on("request", on_request)
    try:
        started = time.perf_counter()
        await tab.goto(base_url + page.path, wait_until="commit")
        for selector in page.ready:
            await tab.wait_for_selector(selector, timeout=READY_TIMEOUT_MS)
        if page.click is not None:
            await tab.click(page.click)
            for selector in page.opened:
                await tab.wait_for_selector(selector, timeout=READY_TIMEOUT_MS)
        ready_ms = (time.perf_counter() - started) * 1000
        first_request_ms, answered_ms = await tab.evaluate(GRAPHQL_TIMING)
        load = Load(
            round(ready_ms, 1), len(sent), round(first_request_ms, 1), round(answered_ms, 1)
        )
        if not record:
            return load, []
        await tab.wait_for_load_state("networkidle")
        if page.shows is not None:
            selector, text = page.shows
            shown = (await tab.inner_text(selector)).strip()
            if shown != text:
                raise RuntimeError(f"{page.name} shows {shown!r} first, not {text!r}")
        return load, [await Recorded.of(request) for request in sent]
    except Exception as error:
        body = await tab.inner_text("body")
        raise RuntimeError(f"{page.name} ({page.path}) did not render: {body[:500]}") from error
    finally:
        await tab.close()


async def browse(base_url: str, key: str, pages: list[UiPage], loads: int) -> list[PageRun]:
    """Each page loaded in Chromium: once to record its requests, then `loads` times timed.
    One browser context for all, signed in, whose cache keeps the UI's assets after the first
    load, as a returning user's browser does."""
    runs: list[PageRun] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox"]
        )
        try:
            context = await browser.new_context()
            # Signed in as the sign-in form leaves it, before the app reads it.
            await context.add_init_script(
                f"localStorage.setItem({json.dumps(STORED_KEY)}, {json.dumps(key)})"
            )
            for page in pages:
                _, recorded = await load_page(context, base_url, page, record=True)
                browsed = PageRun(page, recorded, [])
                for _ in range(loads):
                    load, _ = await load_page(context, base_url, page, record=False)
                    if load.requests != len(recorded):
                        print(
                            f"warning: {page.name} sent {load.requests} GraphQL requests before it "
                            f"was drawn, {len(recorded)} when recorded",
                            flush=True,
                        )
                    browsed.loads.append(load)
                print(
                    f"{page.name}: {len(recorded)} GraphQL requests "
                    f"({', '.join(str(r.operation()['operationName']) for r in recorded)}), "
                    f"ready p50 {browsed.p('ready_ms', 0.5)} ms, "
                    f"p95 {browsed.p('ready_ms', 0.95)} ms (p50 from the navigation's start: "
                    f"first request sent at {browsed.p('first_request_ms', 0.5)} ms, last "
                    f"answered at {browsed.p('answered_ms', 0.5)} ms)",
                    flush=True,
                )
                runs.append(browsed)
        finally:
            await browser.close()
    return runs


# --- over HTTP --------------------------------------------------------------------------------


async def check_ui_served(client: httpx.AsyncClient) -> None:
    """`GET /` as a browser asks for it must answer the built UI's index.html."""
    response = await client.get("/", headers={"Accept": "text/html"})
    built = (UI_DIR / "index.html").read_text()
    if response.status_code != 200 or response.text != built:
        raise SystemExit(
            f"GET / answered {response.status_code}, not ui/dist/index.html:\n{response.text[:500]}"
        )


async def deep_cursor(client: httpx.AsyncClient, collection: str, depth: int) -> str:
    """The cursor `depth` versions down the collection, newest first, paged 100 at a time."""
    after: str | None = None
    paged = 0
    while paged < depth:
        first = min(100, depth - paged)
        variables = {
            "organization": ORGANIZATION,
            "registry": registry_name(0),
            "name": collection,
            "first": first,
            "after": after,
        }
        response = await client.post(
            GRAPHQL, json={"query": VERSIONS_CURSOR, "variables": variables}
        )
        if failed(response.status_code, response.content):
            raise RuntimeError(f"paging to the deep page failed: {response.text[:500]}")
        versions = response.json()["data"]["registry"]["collection"]["versions"]
        after = versions["pageInfo"]["endCursor"]
        paged += first
    assert after is not None
    return after


def request_scenario(browsed: PageRun, index: int) -> Scenario:
    """One recorded request, for counting its statements."""
    recorded = browsed.recorded[index]
    operation = recorded.operation()["operationName"]

    async def send(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        return await recorded.send(client)

    return custom_scenario(f"{browsed.page.name}#{index} {operation}", operation, send)


def page_scenario(browsed: PageRun, connections: httpx.AsyncClient) -> Scenario:
    """A page load over HTTP: its recorded requests at once, answering the first failed
    response or the last. They go over `connections` (a pool of keep-alive connections, as a
    browser's), not over the one connection of the driving task."""

    async def send(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        responses = await asyncio.gather(*(r.send(connections) for r in browsed.recorded))
        return next((r for r in responses if failed(r.status_code, r.content)), responses[-1])

    operations = ", ".join(str(r.operation()["operationName"]) for r in browsed.recorded)
    return custom_scenario(
        browsed.page.name,
        f"`{browsed.page.path}`: {browsed.page.description} ({operations})",
        send,
    )


def page_statements(browsed: PageRun, counts: dict[str, StatementCount]) -> StatementCount:
    """The statements of all of a page's requests, and of each."""
    mine = [counts[request_scenario(browsed, i).name] for i in range(len(browsed.recorded))]
    return StatementCount(
        statements=sum(c.statements for c in mine),
        pool_resets=sum(c.pool_resets for c in mine),
        texts=[text for c in mine for text in c.texts],
        per_request=[c.statements for c in mine],
    )


# --- the report -------------------------------------------------------------------------------


def page_table(
    runs: list[PageRun], statements: dict[str, StatementCount], results: list[LoadResult]
) -> str:
    """One row per page and concurrency: the page's requests, statements and browser times on
    its first row, then the HTTP load; below, each page's requests and their statements."""
    headings = [
        "page",
        "GraphQL requests/load",
        "statements/load",
        "browser ready p50 ms",
        "browser ready p95 ms",
        "concurrency",
        "page loads",
        "p50 ms",
        "p99 ms",
        "loads/s",
        "server CPU ms/load",
        "PostgreSQL CPU ms/load",
        "errors",
    ]
    lines = [markdown_row(headings), "|" + "---|" * len(headings)]
    for browsed in runs:
        count = statements[browsed.page.name]
        page_cells = [
            browsed.page.name,
            str(len(browsed.recorded)),
            f"{count.statements} (+{count.pool_resets} pool resets)",
            f"{browsed.p('ready_ms', 0.5):g}",
            f"{browsed.p('ready_ms', 0.95):g}",
        ]
        for index, r in enumerate(x for x in results if x.scenario == browsed.page.name):
            lines.append(
                markdown_row(
                    [
                        *(page_cells if index == 0 else [""] * len(page_cells)),
                        *load_cells(r),
                        str(r.errors),
                    ]
                )
            )
    lines.append("")
    for browsed in runs:
        per_request = ", ".join(
            f"{r.operation()['operationName']} {n}"
            for r, n in zip(
                browsed.recorded, statements[browsed.page.name].per_request, strict=True
            )
        )
        lines.append(
            f"- **{browsed.page.name}** (`{browsed.page.path}`): {browsed.page.description}. "
            f"Statements by request: {per_request}. In the browser (p50, from the navigation's "
            f"start): first GraphQL request sent at {browsed.p('first_request_ms', 0.5):g} ms, "
            f"last answered at {browsed.p('answered_ms', 0.5):g} ms."
        )
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = options.parser(
        "python -m bench.ui",
        "Build the web UI, seed one registry of 100,000 versions, start the Cairn server, load "
        "each UI page in headless Chromium (timed until its data is drawn), and replay the "
        "GraphQL requests each page sends: their statements, and the page's load over HTTP. "
        "The database is dropped at the end.",
    )
    options.add_shape(parser)
    # One registry of 100 collections x 1,000 versions: the 100,000-version registry.
    parser.set_defaults(registries=1, versions=1000)
    parser.add_argument(
        "--loads",
        type=int,
        default=20,
        help="timed browser loads of each page, after one that records its requests "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--no-build", action="store_true", help="measure ui/dist as it is, without building it"
    )
    options.add_load(parser)
    parser.add_argument(
        "--pages",
        default=None,
        help="comma-separated, of home, organization, registry, collection, collection-deep, "
        "version, search, administration (default: all of them)",
    )
    options.add_server(parser)
    options.add_output(parser, explain=False)
    args = parser.parse_args(argv)
    options.check_shape(parser, args)
    if args.versions < 60:
        parser.error("--versions must be at least 60 for a deep page below the first")
    if args.loads < 1:
        parser.error("--loads must be at least 1")
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if not args.no_build:
        started = time.perf_counter()
        await asyncio.to_thread(build_ui)
        print(f"built the UI in {time.perf_counter() - started:.1f} s", flush=True)
    shape = options.shape(args)
    collection = collection_name(min(COLLECTION, shape.collections - 1))
    # The deep page starts nine tenths of the way down (900 of 1,000 versions).
    deep = shape.versions * 9 // 10
    async with benchmark_database(args.database_url, keep=args.keep_database) as database:
        async with migrated(database.url) as conn:
            print(
                f"seeding {shape.registries} registry x {shape.collections} collections x "
                f"{shape.versions} versions = {shape.registry_versions:,} registry versions ...",
                flush=True,
            )
            seeded = await seed(conn, shape)
        print(f"seeded in {seeded.seconds:.1f} s: {seeded.rows}", flush=True)
        async with serving(database.url, args.pool_size) as server:
            runs, pages = await browser_phase(server, seeded.member_key, args, collection, deep)
            scenarios = {
                s.name: s
                for browsed in runs
                for s in (request_scenario(browsed, i) for i in range(len(browsed.recorded)))
            }
            counts = await count_statements(
                database.url, seeded.member_key, list(scenarios.values())
            )
            statements = {browsed.page.name: page_statements(browsed, counts) for browsed in runs}
            for browsed in runs:
                count = statements[browsed.page.name]
                print(
                    f"{browsed.page.name}: {count.statements} statements "
                    f"(+{count.pool_resets} pool resets), by request {count.per_request}",
                    flush=True,
                )
            results: list[LoadResult] = []
            limits = httpx.Limits(
                max_connections=BROWSER_CONNECTIONS * max(args.concurrency),
                max_keepalive_connections=BROWSER_CONNECTIONS * max(args.concurrency),
                keepalive_expiry=KEEPALIVE_SECONDS,
            )
            async with httpx.AsyncClient(
                base_url=server.base_url,
                limits=limits,
                timeout=120.0,
                headers=headers(seeded.member_key),
            ) as connections:
                for browsed in runs:
                    results += await drive_each(
                        server,
                        database,
                        page_scenario(browsed, connections),
                        seeded.member_key,
                        args.concurrency,
                        duration=args.duration,
                        warmup=args.warmup,
                    )
            warn_of_failures(results, server)
        return {
            "machine": machine(database.postgres_version),
            "dataset": seeded.dataset(),
            "settings": {
                "browser_loads_per_page": args.loads,
                "duration_seconds": args.duration,
                "warmup_seconds": args.warmup,
                **server_and_client(args.pool_size),
                "client": "httpx.AsyncClient in the benchmark process on the same machine: each "
                "concurrent task's page load sends the page's recorded requests at once, over a "
                f"shared pool of up to {BROWSER_CONNECTIONS} keep-alive connections per task",
                "browser": "Debian's Chromium, headless, through Playwright; one context "
                "(the UI's assets cached after the first load), a fresh tab per load",
                "user": "bench-member (organization MEMBER), its key in localStorage "
                f"`{STORED_KEY}`",
                "not_replayed": "the collection page's websocket subscription (registryEvents)",
            },
            "pages": {
                browsed.page.name: {
                    "path": browsed.page.path,
                    "description": browsed.page.description,
                    "ready_selectors": [*browsed.page.ready, *browsed.page.opened],
                    "graphql_requests": [
                        {**r.operation(), "refused": list(r.refused)} for r in browsed.recorded
                    ],
                    "statements": {
                        **statements[browsed.page.name].as_json(),
                        "by_request": [
                            counts[request_scenario(browsed, i).name].as_json(per_request=False)
                            for i in range(len(browsed.recorded))
                        ],
                    },
                    "browser_ms": {
                        "ready_p50": browsed.p("ready_ms", 0.5),
                        "ready_p95": browsed.p("ready_ms", 0.95),
                        "first_request_p50": browsed.p("first_request_ms", 0.5),
                        "answered_p50": browsed.p("answered_ms", 0.5),
                        "loads": [asdict(load) for load in browsed.loads],
                    },
                }
                for browsed in runs
            },
            "scenarios": {page.name: page.description for page in pages},
            "results": [asdict(r) for r in results],
            "markdown": page_table(runs, statements, results),
        }


async def browser_phase(
    server: Server, key: str, args: argparse.Namespace, collection: str, deep: int
) -> tuple[list[PageRun], list[UiPage]]:
    """Checks the server serves the UI, finds the deep page's cursor, and browses the chosen
    pages."""
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers(key)) as client:
        await check_ui_served(client)
        cursor = await deep_cursor(client, collection, deep)
    described = {p.name: p for p in ui_pages(collection, args.versions, cursor, deep)}
    chosen = args.pages.split(",") if args.pages else list(described)
    unknown = set(chosen) - set(described)
    if unknown:
        raise SystemExit(f"unknown pages: {sorted(unknown)}")
    pages = [described[name] for name in chosen]
    return await browse(server.base_url, key, pages, args.loads), pages


def dataset_line(d: dict[str, Any]) -> str:
    return (
        f"Dataset: {d['registries']} registry x {d['collections']} collections x "
        f"{d['versions']} versions = {d['registry_versions']:,} registry versions (+ as many "
        f"logged versions, runs and lineage; {d['rows']['alias_history']:,} alias history rows, "
        f"{d['rows']['audit_events']:,} audit events), seeded in {d['seeding_seconds']} s."
    )


def main(argv: list[str] | None = None) -> None:
    run_benchmark(
        run, parse_args(argv), title="Cairn web UI benchmark", dataset=dataset_line, key="ui"
    )


if __name__ == "__main__":
    main()
