"""The README's searches run as written against the demo data, and answer what the README says
they answer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.support.graphql import GraphQLClient

README = Path(__file__).resolve().parent.parent / "README.md"


def searches() -> list[str]:
    text = README.read_text()
    section = text.split("\n## Search", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```graphql\n(.*?)```", section, re.DOTALL)


async def test_the_readme_shows_three_searches_that_answer_on_the_demo(ada: GraphQLClient) -> None:
    found = searches()
    assert len(found) == 3
    answers: list[Any] = [await ada.data(document) for document in found]

    not_in_production = answers[0]["artifactVersions"]
    assert [n["version"] for n in not_in_production["nodes"]] == ["v9", "v8", "v6", "v5"]
    assert not_in_production["totalCount"] == 4
    assert all(n["metadata"]["auc"] >= 0.85 for n in not_in_production["nodes"])
    assert all("production" not in n["aliases"] for n in not_in_production["nodes"])

    in_production = [n["path"] for n in answers[1]["artifactVersions"]["nodes"]]
    assert "acme/wandb-registry-model/churn-classifier:v7" in in_production
    assert len(in_production) >= 4
    for path in in_production:
        data = await ada.data(
            "query($p: String!) { artifactVersion(path: $p) { aliases } }", {"p": path}
        )
        assert "production" in data["artifactVersion"]["aliases"]

    # Names first (the two customer datasets, the newer first on a tie), then a tag.
    customers = [n["name"] for n in answers[2]["collections"]["nodes"]]
    assert customers == ["customers-raw", "customers", "churn-classifier"]
    failed = answers[2]["artifactVersions"]["nodes"]
    assert [n["path"] for n in failed] == ["acme/wandb-registry-eval-reports/churn-evals:v1"]
    assert failed[0]["metadata"]["passed"] is False
