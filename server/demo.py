"""Demo data for a newcomer: an organization `acme` with registries, collections, versions,
aliases, tags, two projects and a lineage chain (raw data → preprocessing → dataset → training
→ model → evaluation → report). Built with the same resolver functions as the API's writes."""

from __future__ import annotations

import hashlib

import asyncpg

from db import organizations, registries
from db.pool import Connection
from db.records import ArtifactVersion, Project, Registry, User
from resolvers import accounts, commands
from resolvers.commands import FileEntry

ORGANIZATION = "acme"


def _files(*names: str, seed: str) -> list[FileEntry]:
    return [
        FileEntry(
            path=name,
            digest=hashlib.sha256(f"{seed}/{name}".encode()).hexdigest(),
            size=1024 * (len(name) + len(seed)),
        )
        for name in names
    ]


async def seed_demo(pool: asyncpg.Pool) -> bool:
    """Fills `acme` unless it already exists; returns whether it did."""
    async with pool.acquire() as conn, conn.transaction():
        # One seeding at a time, even if two `cairn demo` run at once.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cairn.demo'))")
        existing = await organizations.organizations_by_name(conn, [ORGANIZATION])
        if existing[0] is not None:
            return False
        await _seed(conn)
        return True


async def _seed(conn: Connection) -> None:
    org = await commands.create_organization(conn, ORGANIZATION, "Acme Corp")
    ada = await accounts.create_user(conn, "ada", "Ada Lovelace")
    bob = await accounts.create_user(conn, "bob", "Bob Shannon")
    cy = await accounts.create_user(conn, "cy", "Cy Hopper")
    for user, role in ((ada, "ADMIN"), (bob, "MEMBER"), (cy, "VIEWER")):
        await accounts.add_organization_member(conn, org, user, role)
    model, dataset = await registries.registries_by_organization_name(
        conn, [(org.id, "model"), (org.id, "dataset")]
    )
    assert model is not None
    assert dataset is not None
    # Bob links models and datasets: org members only view registries unless given a role.
    for registry in (model, dataset):
        await registries.set_registry_user_role(conn, registry.id, bob.id, "MEMBER")
    reports = await commands.create_registry(
        conn,
        ada,
        org.id,
        name="eval-reports",
        description="Evaluation reports for models headed to production. Restricted to reviewers.",
        visibility="RESTRICTED",
        accepted_types=["report"],
        protected_aliases=["approved"],
    )
    await _churn_project(conn, ada, bob, org.id, model, dataset, reports)
    await _vision_project(conn, ada, bob, org.id, model, dataset)


async def _churn_project(
    conn: Connection,
    ada: User,
    bob: User,
    org_id: int,
    model: Registry,
    dataset: Registry,
    reports: Registry,
) -> None:
    project = await commands.create_project(
        conn, org_id, "churn", "Predicting which customers will leave."
    )
    ingest = await commands.create_run(conn, bob, project, "ingest-2026-11", {"source": "crm"})
    raw = await commands.log_artifact(
        conn,
        bob,
        project,
        name="customers-raw",
        artifact_type="dataset",
        run=ingest,
        files=_files("customers.csv", "schema.json", seed="raw"),
        metadata={"rows": 120_000, "source": "crm"},
        description="CRM export, unprocessed.",
    )
    await commands.finish_run(conn, ingest, summary={"rows": 120_000})
    await commands.link_artifact(conn, bob, raw, dataset, "customers-raw", ["production"])

    cleaned: list[ArtifactVersion] = []
    for i in range(4):
        prep = await commands.create_run(
            conn, bob, project, f"preprocess-{i}", {"dedupe": True, "min_tenure_days": 30 + i}
        )
        await commands.use_artifact(conn, prep, raw)
        clean = await commands.log_artifact(
            conn,
            bob,
            project,
            name="customers-clean",
            artifact_type="dataset",
            run=prep,
            files=_files("train.parquet", "test.parquet", seed=f"clean-{i}"),
            metadata={"rows": 118_000 - i * 500, "features": 42 + i},
            description=f"Deduplicated, tenure ≥ {30 + i} days.",
        )
        await commands.finish_run(conn, prep, summary={"dropped_rows": 2000 + i * 500})
        linked = await commands.link_artifact(conn, bob, clean, dataset, "customers")
        cleaned.append(clean)
        if i == 3:
            await commands.add_aliases(conn, ada, linked, ["production"])
        await commands.change_version_tags(conn, bob, linked, ["deduplicated"], add=True)

    await commands.create_collection(
        conn,
        ada,
        model,
        name="churn-classifier",
        artifact_type="model",
        description="# Churn classifier\n\nGradient-boosted trees predicting 90-day churn from "
        "CRM features. Promote to `production` only after an approved evaluation report.",
        tags=["tabular", "customer-success"],
    )
    models: list[ArtifactVersion] = []
    for i in range(10):
        train = await commands.create_run(
            conn, bob, project, f"train-{i}", {"lr": round(0.1 / (i + 1), 4), "epochs": 10 + i}
        )
        await commands.use_artifact(conn, train, cleaned[min(i // 3, 3)])
        trained = await commands.log_artifact(
            conn,
            bob,
            project,
            name="churn-model",
            artifact_type="model",
            run=train,
            files=_files("model.pkl", "requirements.txt", seed=f"churn-{i}"),
            metadata={"auc": round(0.80 + i * 0.01, 3), "framework": "xgboost"},
        )
        await commands.finish_run(conn, train, summary={"auc": round(0.80 + i * 0.01, 3)})
        linked = await commands.link_artifact(conn, bob, trained, model, "churn-classifier")
        await commands.change_version_tags(
            conn, bob, linked, ["xgboost"] + (["baseline"] if i == 0 else []), add=True
        )
        models.append(linked)
    await commands.add_aliases(conn, ada, models[7], ["production"])
    await commands.add_aliases(conn, bob, models[9], ["staging"])
    await commands.add_aliases(conn, bob, models[8], ["candidate"])

    for i, candidate in enumerate(models[6:]):
        evaluation = await commands.create_run(conn, ada, project, f"evaluate-{i}")
        await commands.use_artifact(conn, evaluation, candidate)
        report = await commands.log_artifact(
            conn,
            ada,
            project,
            name="churn-eval-report",
            artifact_type="report",
            run=evaluation,
            files=_files("report.html", "metrics.json", seed=f"report-{i}"),
            metadata={"model": f"churn-classifier:v{candidate.version_index}", "passed": i != 1},
        )
        await commands.finish_run(conn, evaluation, summary={"passed": i != 1})
        linked = await commands.link_artifact(conn, ada, report, reports, "churn-evals")
        if i == 1:
            await commands.add_aliases(conn, ada, linked, ["approved"])


async def _vision_project(
    conn: Connection,
    ada: User,
    bob: User,
    org_id: int,
    model: Registry,
    dataset: Registry,
) -> None:
    project: Project = await commands.create_project(
        conn, org_id, "vision", "Detecting defects on the production line."
    )
    images: list[ArtifactVersion] = []
    for i in range(5):
        collect = await commands.create_run(conn, bob, project, f"collect-{i}")
        logged = await commands.log_artifact(
            conn,
            bob,
            project,
            name="line-images",
            artifact_type="dataset",
            run=collect,
            files=_files("images.tar", "labels.json", seed=f"images-{i}"),
            metadata={"images": 10_000 * (i + 1)},
        )
        await commands.finish_run(conn, collect)
        linked = await commands.link_artifact(
            conn, bob, logged, dataset, "line-images", ["staging"] if i == 4 else []
        )
        images.append(logged)
        if i == 3:
            await commands.add_aliases(conn, ada, linked, ["production"])
    await commands.create_collection(
        conn,
        ada,
        model,
        name="defect-detector",
        artifact_type="model",
        description="# Defect detector\n\nResNet-50 spotting defects on line camera images.",
        tags=["vision"],
    )
    detectors: list[ArtifactVersion] = []
    for i in range(8):
        train = await commands.create_run(
            conn, ada, project, f"train-detector-{i}", {"arch": "resnet50", "epochs": 20 + i}
        )
        await commands.use_artifact(conn, train, images[min(i // 2, 4)])
        trained = await commands.log_artifact(
            conn,
            ada,
            project,
            name="defect-detector",
            artifact_type="model",
            run=train,
            files=_files("weights.pt", "config.yaml", seed=f"detector-{i}"),
            metadata={"mAP": round(0.5 + i * 0.03, 3)},
        )
        await commands.finish_run(
            conn, train, state="FAILED" if i == 2 else "FINISHED", summary={"mAP": 0.5 + i * 0.03}
        )
        linked = await commands.link_artifact(conn, ada, trained, model, "defect-detector")
        detectors.append(linked)
    await commands.add_aliases(conn, ada, detectors[6], ["production"])
    await commands.add_aliases(conn, ada, detectors[7], ["staging"])


async def demo_key(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        return await accounts.create_api_key(
            conn, "ada", organization=ORGANIZATION, key_name="demo"
        )
