"""The web UI in a real headless browser (Debian's Chromium through Playwright) against a live
`cairn serve` with the demo data: signing in and out, browsing from the organization to a
version, and downloading a file. The UI is built from `ui/` first, as the README builds it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.browser import build_ui, chromium
from tests.support.wandb_sdk import Cairn, live_cairn


@pytest.fixture(scope="module")
async def live(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cairn]:
    build_ui()
    async with live_cairn(server_url, tmp_path_factory, "ui") as started:
        yield started


@pytest.fixture(scope="module")
def browser(live: Cairn) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # UTC, so that the moments a test types mean what the server reads.
    context = browser.new_context(accept_downloads=True, timezone_id="UTC")
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Page, live: Cairn, user: str = "ada") -> None:
    page.goto(live.server.base_url + "/")
    page.get_by_label("API key").fill(live.keys[user])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("header .viewer")).to_contain_text(user)


def test_a_wrong_key_shows_the_servers_error_and_signs_nobody_in(page: Page, live: Cairn) -> None:
    page.goto(live.server.base_url + "/")
    page.get_by_label("API key").fill("cairn_" + "0" * 64)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error")).to_contain_text("API key")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_browse_to_the_production_model_and_download_its_file(page: Page, live: Cairn) -> None:
    sign_in(page, live)
    registries = page.locator("table.registries")
    expect(registries).to_contain_text("eval-reports")
    page.get_by_role("link", name="model", exact=True).click()
    expect(page.locator("h1")).to_have_text("model")
    page.get_by_role("link", name="churn-classifier").click()
    expect(page.locator("table.versions")).to_contain_text("production")
    production = page.locator("table.versions tr", has_text="production")
    production.get_by_role("link").click()
    expect(page.locator("h1")).to_contain_text("churn-classifier:v")
    expect(page.locator("table.metadata")).to_contain_text("auc")

    cairn = live.graphql(
        "ada",
        """{ artifactVersion(path: "acme/wandb-registry-model/churn-classifier:production") {
             version files(first: 10) { nodes { path digest } } } }""",
    )["artifactVersion"]
    expect(page.locator("h1")).to_contain_text(f"churn-classifier:{cairn['version']}")
    wanted = cairn["files"]["nodes"][0]
    with page.expect_download() as started:
        page.get_by_role("link", name=wanted["path"], exact=True).click()
    downloaded = Path(started.value.path()).read_bytes()
    assert hashlib.sha256(downloaded).hexdigest() == wanted["digest"]


def protect_production(live: Cairn) -> None:
    """`production` protected in the `model` registry: only its admins may move it."""
    live.mutate(
        "ada",
        "updateRegistry",
        "registry { protectedAliases }",
        registryId=live.registry_id("model"),
        protectedAliases=["production"],
    )


def test_protected_aliases_are_marked(page: Page, live: Cairn) -> None:
    protect_production(live)
    sign_in(page, live)
    page.goto(live.server.base_url + "/acme/model/churn-classifier")
    expect(page.locator(".alias.protected", has_text="production")).to_be_visible()
    expect(page.locator(".alias:not(.protected)", has_text="latest")).to_be_visible()


def test_signing_out_forgets_the_key(page: Page, live: Cairn) -> None:
    sign_in(page, live, "cy")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    stored = page.evaluate("() => Object.keys(window.localStorage)")
    assert stored == []


def test_a_page_the_ui_routes_to_loads_directly(page: Page, live: Cairn) -> None:
    sign_in(page, live)
    page.goto(live.server.base_url + "/acme/dataset")
    expect(page.locator("h1")).to_have_text("dataset")
    page.goto(live.server.base_url + "/acme/no-such-registry")
    expect(page.locator(".error")).to_contain_text("not found")


def test_the_api_answers_as_before_beside_the_ui(live: Cairn) -> None:
    api_miss = httpx.get(live.server.base_url + "/no-such-thing", timeout=10)
    assert api_miss.status_code == 404
    assert api_miss.json() == {"error": "no such resource: /no-such-thing"}
    graphiql = httpx.get(
        live.server.base_url + "/graphql", headers={"Accept": "text/html"}, timeout=10
    )
    assert "graphiql" in graphiql.text.lower()


def aliases_of(live: Cairn, path: str) -> list[str]:
    found: list[str] = live.graphql(
        "ada", "query($path: String!) { artifactVersion(path: $path) { aliases } }", path=path
    )["artifactVersion"]["aliases"]
    return found


def production_version(live: Cairn) -> str:
    """Which version of the churn classifier holds `production`, as Cairn's API says."""
    found: str = live.graphql(
        "ada",
        '{ artifactVersion(path: "acme/wandb-registry-model/churn-classifier:production") '
        "{ version } }",
    )["artifactVersion"]["version"]
    return found


def test_a_member_moves_an_alias_and_is_refused_a_protected_one(page: Page, live: Cairn) -> None:
    protect_production(live)
    sign_in(page, live, "bob")
    page.goto(live.server.base_url + "/acme/model/churn-classifier/v8")
    editor = page.locator(".aliases-editor")
    editor.get_by_label("New alias").fill("ui-staging")
    editor.get_by_role("button", name="Add alias").click()
    expect(editor.locator(".alias", has_text="ui-staging")).to_be_visible()
    assert "ui-staging" in aliases_of(live, "acme/wandb-registry-model/churn-classifier:v8")

    holder_before = production_version(live)
    editor.get_by_label("New alias").fill("production")
    editor.get_by_role("button", name="Add alias").click()
    expect(editor.locator(".error")).to_contain_text("protected")
    holder_after = production_version(live)
    assert holder_after == holder_before

    editor.get_by_role("button", name="Remove alias ui-staging").click()
    expect(editor.locator(".alias", has_text="ui-staging")).to_have_count(0)
    assert "ui-staging" not in aliases_of(live, "acme/wandb-registry-model/churn-classifier:v8")


def test_an_admin_promotes_a_version_and_tags_it(page: Page, live: Cairn) -> None:
    sign_in(page, live, "ada")
    page.goto(live.server.base_url + "/acme/model/churn-classifier/v9")
    aliases = page.locator(".aliases-editor")
    aliases.get_by_label("New alias").fill("production")
    aliases.get_by_role("button", name="Add alias").click()
    expect(aliases.locator(".alias", has_text="production")).to_be_visible()
    tags = page.locator(".tags-editor")
    tags.get_by_label("New tag").fill("promoted-in-ui")
    tags.get_by_role("button", name="Add tag").click()
    expect(tags.locator(".tag", has_text="promoted-in-ui")).to_be_visible()
    production = live.graphql(
        "ada",
        '{ artifactVersion(path: "acme/wandb-registry-model/churn-classifier:production") '
        "{ version tags } }",
    )["artifactVersion"]
    assert production["version"] == "v9"
    assert "promoted-in-ui" in production["tags"]


def drawn_nodes(page: Page) -> list[str]:
    """The labels of the nodes the lineage picture drew, once it has drawn them."""
    graph = page.get_by_test_id("lineage-graph")
    expect(graph).to_have_attribute("data-nodes", re.compile(r"\[.+\]"))
    labels: list[str] = json.loads(graph.get_attribute("data-nodes") or "[]")
    return labels


def test_lineage_is_a_picture_of_where_the_model_came_from(page: Page, live: Cairn) -> None:
    sign_in(page, live)
    page.goto(live.server.base_url + "/acme/model/churn-classifier/production")
    upstream = drawn_nodes(page)
    assert any(n.startswith("run churn/train-") for n in upstream)
    assert any(n.startswith("customers-clean:") for n in upstream)
    assert page.locator("canvas").count() > 0
    # The model's own logged version is linked into the registry: highlighted.
    graph = page.get_by_test_id("lineage-graph")
    registered = json.loads(graph.get_attribute("data-registered") or "[]")
    assert any(n.startswith("churn-model:") for n in registered), registered
    assert not any(n.startswith("run ") for n in registered)

    page.get_by_label("Depth").fill("1")
    expect(page.get_by_test_id("lineage-graph")).not_to_have_attribute(
        "data-nodes", json.dumps(upstream, separators=(",", ":"))
    )
    assert not any(n.startswith("customers-clean:") for n in drawn_nodes(page))


def test_clicking_a_registered_node_on_the_canvas_opens_its_registry_version(
    page: Page, live: Cairn
) -> None:
    sign_in(page, live)
    page.goto(live.server.base_url + "/acme/dataset/customers/production")
    graph = page.get_by_test_id("lineage-graph")
    page.get_by_label("What depends on it").check()
    expect(graph).to_have_attribute("data-registered", re.compile(r"churn-model:"))
    registered = json.loads(graph.get_attribute("data-registered") or "[]")
    model = next(n for n in registered if n.startswith("churn-model:"))
    expect(graph).to_have_attribute("data-positions", re.compile(re.escape(model)))
    where = json.loads(graph.get_attribute("data-positions") or "{}")[model]
    # As a person would: scroll to the picture, then click. Cytoscape learns where its canvas
    # sits from the scroll event, which a frame later has been handled.
    graph.scroll_into_view_if_needed()
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
    graph.click(position={"x": where["x"], "y": where["y"]})
    expect(page).to_have_url(re.compile(r"/acme/model/churn-classifier/v\d+$"))
    expect(page.locator("h1")).to_contain_text("churn-classifier:v")


def test_downstream_of_a_dataset_highlights_the_models_it_affects(page: Page, live: Cairn) -> None:
    sign_in(page, live)
    page.goto(live.server.base_url + "/acme/dataset/customers-raw/production")
    page.get_by_label("What depends on it").check()
    page.get_by_label("Depth").fill("6")
    impact = page.locator(".impact")
    expect(impact).to_contain_text("acme/wandb-registry-model/churn-classifier:v")
    assert any(n.startswith("run churn/train-") for n in drawn_nodes(page))
    impact.get_by_role("link", name=re.compile(r"churn-classifier:v7$")).click()
    expect(page.locator("h1")).to_contain_text("churn-classifier:v7")


def test_search_follows_the_query_and_filters_as_they_are_typed(page: Page, live: Cairn) -> None:
    sign_in(page, live)
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Search", exact=True).fill("churn")
    expect(page.locator(".collections-found")).to_contain_text("model/churn-classifier")

    page.get_by_label("Search", exact=True).fill("")
    page.get_by_label("Alias").fill("production")
    page.get_by_label("Metadata path").fill("auc")
    page.get_by_label("Comparison").select_option("gte")
    page.get_by_label("Metadata value").fill("0.85")
    expected = live.graphql(
        "ada",
        """{ artifactVersions(first: 50, filter: {and: [{aliases: {any: ["production"]}},
             {metadata: [{path: "auc", gte: 0.85}]}]}) { nodes { path } } }""",
    )["artifactVersions"]["nodes"]
    assert expected, "the demo holds a production version with auc >= 0.85"
    found = page.locator(".versions-found li")
    expect(found).to_have_count(len(expected))
    for version in expected:
        expect(page.locator(".versions-found")).to_contain_text(version["path"])


def test_search_pages_by_cursor(page: Page, live: Cairn) -> None:
    total = live.graphql("ada", "{ artifactVersions(first: 1) { totalCount } }")
    count = total["artifactVersions"]["totalCount"]
    assert count > 25, "the demo holds more versions than one page"
    sign_in(page, live)
    page.goto(live.server.base_url + "/search")
    expect(page.locator(".versions-found li")).to_have_count(25)
    page.get_by_role("button", name="More versions").click()
    expect(page.locator(".versions-found li")).to_have_count(min(count, 50))


def test_a_collections_history_and_who_held_production_then(page: Page, live: Cairn) -> None:
    sign_in(page, live)
    page.goto(live.server.base_url + "/acme/model/churn-classifier")
    history = page.locator("table.history")
    expect(history).to_contain_text("link artifact")
    expect(history).to_contain_text("production → v")

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    page.get_by_label("Moment").fill(now)
    expect(page.get_by_label("Version held")).to_have_text(production_version(live))
    page.get_by_label("Moment").fill("2001-01-01T00:00:00")
    expect(page.get_by_label("Version held")).to_have_text("none")


def test_a_collection_page_shows_an_alias_moved_by_someone_else(page: Page, live: Cairn) -> None:
    sign_in(page, live)
    page.goto(live.server.base_url + "/acme/model/churn-classifier")
    expect(page.locator("table.versions")).to_contain_text("v3")
    # Another session moves an alias back and forth until the page has subscribed and shows a
    # move; every move is an event, so the first one after subscribing shows.
    for attempt in range(50):
        target = ("v3", "v4")[attempt % 2]
        live.mutate(
            "bob",
            "addAliases",
            "artifactVersion { aliases }",
            input_type="AliasesInput",
            path=f"acme/wandb-registry-model/churn-classifier:{target}",
            aliases=["ui-live"],
        )
        if page.locator(".live").count():
            break
        page.wait_for_timeout(100)
    expect(page.locator(".live")).to_contain_text("bob add artifact alias ui-live on v")
    shown = page.locator(".live").inner_text().rsplit(" ", 1)[-1]
    row = page.locator("table.versions tr", has=page.get_by_role("link", name=shown, exact=True))
    expect(row).to_contain_text("ui-live")


def card_of(live: Cairn) -> str:
    found: str = live.graphql(
        "ada",
        '{ registry(organization: "acme", name: "model") '
        '{ collection(name: "defect-detector") { description } } }',
    )["registry"]["collection"]["description"]
    return found


def test_a_card_is_edited_by_who_may_and_refused_to_a_viewer(page: Page, live: Cairn) -> None:
    before = card_of(live)
    sign_in(page, live, "cy")
    page.goto(live.server.base_url + "/acme/model/defect-detector")
    page.get_by_role("button", name="Edit card").click()
    page.get_by_label("Card").fill("## Refused")
    page.get_by_role("button", name="Save card").click()
    expect(page.locator(".card-editor .error")).to_contain_text("VIEWER")
    assert card_of(live) == before

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live, "ada")
    page.goto(live.server.base_url + "/acme/model/defect-detector")
    page.get_by_role("button", name="Edit card").click()
    page.get_by_label("Card").fill("## Owners\n\nThe **vision** team.")
    page.get_by_role("button", name="Save card").click()
    expect(page.locator(".card h2")).to_have_text("Owners")
    expect(page.locator(".card strong")).to_have_text("vision")
    assert card_of(live) == "## Owners\n\nThe **vision** team."


def test_a_member_links_a_version_and_a_wrong_registry_is_refused(page: Page, live: Cairn) -> None:
    sign_in(page, live, "bob")
    page.goto(live.server.base_url + "/acme/model/churn-classifier/v2")
    form = page.locator(".link-form")
    form.get_by_label("Link into").fill("acme/wandb-registry-dataset/not-a-model")
    form.get_by_role("button", name="Link").click()
    expect(form.locator(".error")).to_contain_text("does not accept")

    form.get_by_label("Link into").fill("acme/wandb-registry-model/ui-linked")
    form.get_by_label("Aliases there").fill("fresh")
    form.get_by_role("button", name="Link").click()
    expect(form.locator(".done")).to_contain_text("acme/wandb-registry-model/ui-linked:v0")
    form.get_by_role("link", name="acme/wandb-registry-model/ui-linked:v0").click()
    expect(page.locator(".aliases-editor")).to_contain_text("fresh")
    linked = live.graphql(
        "ada",
        '{ artifactVersion(path: "acme/wandb-registry-model/ui-linked:fresh") '
        "{ linkedBy { name } } }",
    )["artifactVersion"]
    assert linked["linkedBy"]["name"] == "bob"


def open_administration(page: Page, live: Cairn, registry: str) -> None:
    page.goto(f"{live.server.base_url}/acme/{registry}")
    page.locator(".admin-panel summary").click()
    expect(page.locator(".admin h3").first).to_be_visible()


def registry_admin_view(live: Cairn, registry: str) -> dict[str, Any]:
    found: dict[str, Any] = live.graphql(
        "ada",
        'query($name: String!) { registry(organization: "acme", name: $name) { '
        "protectedAliases members(first: 50) { nodes { role user { name } } } } }",
        name=registry,
    )["registry"]
    return found


def test_an_admin_manages_protected_aliases_and_members(page: Page, live: Cairn) -> None:
    sign_in(page, live, "ada")
    open_administration(page, live, "dataset")
    admin = page.locator(".admin")
    admin.get_by_label("New alias").fill("gold")
    admin.get_by_role("button", name="Add alias").click()
    expect(admin.locator(".alias", has_text="gold")).to_be_visible()
    assert "gold" in registry_admin_view(live, "dataset")["protectedAliases"]

    admin.get_by_label("New member", exact=True).select_option(label="cy")
    admin.get_by_label("New member's role").select_option("MEMBER")
    admin.get_by_role("button", name="Add member").click()
    expect(admin.get_by_label("Role of cy")).to_have_value("MEMBER")
    admin.get_by_label("Role of cy").select_option("VIEWER")
    expect(admin.get_by_label("Role of cy")).to_have_value("VIEWER")
    members = registry_admin_view(live, "dataset")["members"]["nodes"]
    roles = {m["user"]["name"]: m["role"] for m in members if m["user"]}
    assert roles["cy"] == "VIEWER"
    admin.get_by_role("button", name="Remove cy").click()
    expect(admin.get_by_label("Role of cy")).to_have_count(0)

    admin.get_by_role("button", name="Remove alias gold").click()
    expect(admin.locator(".alias", has_text="gold")).to_have_count(0)
    assert "gold" not in registry_admin_view(live, "dataset")["protectedAliases"]


def test_a_member_is_refused_administration_in_the_servers_words(page: Page, live: Cairn) -> None:
    sign_in(page, live, "bob")
    open_administration(page, live, "dataset")
    admin = page.locator(".admin")
    admin.get_by_label("New alias").fill("bobs-alias")
    admin.get_by_role("button", name="Add alias").click()
    expect(admin.locator(".error")).to_contain_text("ADMIN")
    assert "bobs-alias" not in registry_admin_view(live, "dataset")["protectedAliases"]


def test_a_failed_delivery_is_shown_and_redelivered(page: Page, live: Cairn) -> None:
    from tests.support.webhooks import Receiver

    receiver = Receiver(default="400")
    try:
        live.mutate(
            "ada",
            "createAutomation",
            "automation { id }",
            registryId=live.registry_id("dataset"),
            name="ui-deliveries",
            events=["ADD_ARTIFACT_ALIAS"],
            webhookUrl=receiver.url,
            secret="s3cret",
        )
        live.mutate(
            "ada",
            "addAliases",
            "artifactVersion { aliases }",
            input_type="AliasesInput",
            path="acme/wandb-registry-dataset/customers:v1",
            aliases=["ui-delivery"],
        )
        receiver.wait_for(1, timeout=30)
        sign_in(page, live, "ada")
        open_administration(page, live, "dataset")
        automation = page.locator(".automation", has_text="ui-deliveries")
        expect(automation.locator(".status")).to_have_text("failed")
        receiver.default = "ok"
        automation.get_by_role("button", name="Redeliver").click()
        redelivered = receiver.wait_for(2, timeout=30)
        assert redelivered[1].json()["event_type"] == "ADD_ARTIFACT_ALIAS"
        open_administration(page, live, "dataset")
        statuses = page.locator(".automation", has_text="ui-deliveries").locator(".status")
        expect(statuses).to_have_text("succeeded")
    finally:
        receiver.close()


def test_a_registrys_history_is_a_timeline_of_its_collections(page: Page, live: Cairn) -> None:
    sign_in(page, live)
    page.goto(live.server.base_url + "/acme/model")
    history = page.locator("table.history")
    expect(history).to_contain_text("link artifact")
    expect(history).to_contain_text("create collection")


def test_a_collections_versions_page_by_cursor(page: Page, live: Cairn) -> None:
    versions = live.graphql(
        "ada",
        '{ registry(organization: "acme", name: "model") { collection(name: "churn-classifier") '
        "{ versions(first: 3) { nodes { version } pageInfo { endCursor } } } } }",
    )["registry"]["collection"]["versions"]
    newest = [v["version"] for v in versions["nodes"]]
    sign_in(page, live)
    cursor = versions["pageInfo"]["endCursor"]
    page.goto(f"{live.server.base_url}/acme/model/churn-classifier?after={cursor}")
    table = page.locator("table.versions")
    expect(table).to_be_visible()
    for version in newest:
        expect(table.get_by_role("link", name=version, exact=True)).to_have_count(0)
    page.get_by_role("button", name="Newest versions").click()
    expect(table.get_by_role("link", name=newest[0], exact=True)).to_be_visible()


def automation_named(live: Cairn, name: str) -> dict[str, Any] | None:
    nodes = live.graphql(
        "ada",
        '{ registry(organization: "acme", name: "dataset") { automations(first: 50) { nodes '
        "{ name enabled events filterRegex webhookUrl headerNames } } } }",
    )["registry"]["automations"]["nodes"]
    return next((n for n in nodes if n["name"] == name), None)


def test_an_admin_makes_tests_changes_and_deletes_an_automation(page: Page, live: Cairn) -> None:
    from tests.support.webhooks import Receiver

    receiver = Receiver()
    try:
        sign_in(page, live, "ada")
        open_administration(page, live, "dataset")
        admin = page.locator(".admin")
        admin.get_by_role("button", name="New automation").click()
        form = admin.get_by_role("form", name="New automation")
        form.get_by_label("Name", exact=True).fill("ui-made")
        form.get_by_label("add artifact alias").check()
        form.get_by_label("Alias or tag filter (regex)").fill("production")
        form.get_by_label("Webhook URL").fill(receiver.url)
        form.get_by_label("Signing secret").fill("s3cret")
        form.get_by_label("Headers").fill("X-Team: data")
        form.get_by_role("button", name="Create automation").click()
        made = admin.locator(".automation", has_text="ui-made")
        expect(made).to_contain_text("matching /production/")
        assert automation_named(live, "ui-made") == {
            "name": "ui-made",
            "enabled": True,
            "events": ["LINK_ARTIFACT", "ADD_ARTIFACT_ALIAS"],
            "filterRegex": "production",
            "webhookUrl": receiver.url,
            "headerNames": ["X-Team"],
        }

        made.get_by_role("button", name="Send a test").click()
        expect(made.locator(".tested")).to_contain_text("Test sent: 200")
        sent = receiver.wait_for(1, timeout=30)
        assert sent[0].headers["x-team"] == "data"

        made.get_by_role("button", name="Disable").click()
        expect(made).to_contain_text("(disabled)")
        assert automation_named(live, "ui-made")["enabled"] is False  # type: ignore[index]

        made.get_by_role("button", name="Edit").click()
        edit = admin.get_by_role("form", name="Edit ui-made")
        edit.get_by_label("link artifact", exact=True).uncheck()
        edit.get_by_label("Alias or tag filter (regex)").fill("")
        edit.get_by_role("button", name="Save automation").click()
        expect(admin.locator(".automation", has_text="ui-made")).not_to_contain_text("matching")
        changed = automation_named(live, "ui-made")
        assert changed is not None
        assert changed["events"] == ["ADD_ARTIFACT_ALIAS"]
        assert changed["filterRegex"] is None
        assert changed["headerNames"] == ["X-Team"]  # left as they were

        made = admin.locator(".automation", has_text="ui-made")
        made.get_by_role("button", name="Delete", exact=True).click()
        made.get_by_role("button", name="Delete ui-made and its deliveries").click()
        expect(admin.locator(".automation", has_text="ui-made")).to_have_count(0)
        assert automation_named(live, "ui-made") is None
    finally:
        receiver.close()


def test_a_bad_automation_is_refused_beside_its_form_and_nothing_is_made(
    page: Page, live: Cairn
) -> None:
    sign_in(page, live, "ada")
    open_administration(page, live, "dataset")
    admin = page.locator(".admin")
    admin.get_by_role("button", name="New automation").click()
    form = admin.get_by_role("form", name="New automation")
    form.get_by_label("Name", exact=True).fill("ui-bad")
    form.get_by_label("Webhook URL").fill("ftp://example.com/hook")
    form.get_by_label("Signing secret").fill("s3cret")
    form.get_by_role("button", name="Create automation").click()
    expect(form.locator(".error")).to_contain_text("http")
    assert automation_named(live, "ui-bad") is None


def team_of(live: Cairn, name: str) -> dict[str, Any] | None:
    teams = live.graphql(
        "ada",
        '{ organization(name: "acme") { teams(first: 50) { nodes { name '
        "members(first: 50) { nodes { name } } } } } }",
    )["organization"]["teams"]["nodes"]
    return next((t for t in teams if t["name"] == name), None)


def test_an_admin_makes_a_team_and_gives_it_a_role_in_a_registry(page: Page, live: Cairn) -> None:
    sign_in(page, live, "ada")
    page.goto(live.server.base_url + "/acme")
    page.get_by_label("New team's name").fill("ui-reviewers")
    page.get_by_role("button", name="Create team").click()
    team = page.get_by_label("Team ui-reviewers")
    team.get_by_label("New member of ui-reviewers").select_option(label="cy")
    team.get_by_role("button", name="Add to ui-reviewers").click()
    expect(team.get_by_role("button", name="Remove cy from ui-reviewers")).to_be_visible()
    assert team_of(live, "ui-reviewers") == {
        "name": "ui-reviewers",
        "members": {"nodes": [{"name": "cy"}]},
    }

    open_administration(page, live, "dataset")
    admin = page.locator(".admin")
    admin.get_by_label("New member", exact=True).select_option(label="team ui-reviewers")
    admin.get_by_label("New member's role").select_option("MEMBER")
    admin.get_by_role("button", name="Add member").click()
    expect(admin.get_by_label("Role of team ui-reviewers")).to_have_value("MEMBER")
    # cy, an organization VIEWER, is a MEMBER of the registry through the team.
    assert (
        live.graphql(
            "cy",
            '{ registry(organization: "acme", name: "dataset") { viewerRole } }',
        )["registry"]["viewerRole"]
        == "MEMBER"
    )
    admin.get_by_role("button", name="Remove team ui-reviewers").click()
    expect(admin.get_by_label("Role of team ui-reviewers")).to_have_count(0)

    page.goto(live.server.base_url + "/acme")
    team = page.get_by_label("Team ui-reviewers")
    team.get_by_role("button", name="Remove cy from ui-reviewers").click()
    expect(team).to_contain_text("No members.")
    team.get_by_role("button", name="Delete team ui-reviewers").click()
    expect(page.get_by_label("Team ui-reviewers")).to_have_count(0)
    assert team_of(live, "ui-reviewers") is None


def test_a_member_is_refused_making_a_team_in_the_servers_words(page: Page, live: Cairn) -> None:
    sign_in(page, live, "bob")
    page.goto(live.server.base_url + "/acme")
    expect(page.locator(".organization")).to_contain_text("your role: member")
    page.get_by_label("New team's name").fill("bobs-team")
    page.get_by_role("button", name="Create team").click()
    expect(page.locator(".organization .error")).to_contain_text("ADMIN")
    assert team_of(live, "bobs-team") is None
