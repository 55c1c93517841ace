"""Demo data for a newcomer: an organization `acme` with registries, collections, versions,
aliases, tags, two projects and a lineage chain (raw data → preprocessing → dataset → training
→ model → evaluation → report). Built with the same steps as the API's writes, audit events
included."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import asyncpg

from db import blobs, organizations
from db import registries as registry_rows
from db.blobs import BlobStore
from db.pool import Connection, advisory_xact_lock
from db.records import ArtifactVersion, Project, Registry, User
from resolvers import accounts, collections, links, registries, runs, versions
from resolvers.organizations import add_member_txn, create_organization_txn
from resolvers.versions import FileEntry

ORGANIZATION = "acme"


def demo_file(name: str, seed: str) -> bytes:
    """A demo file's bytes: readable text where the name says text, seeded bytes otherwise."""
    kind = name.rsplit(".", 1)[-1]
    if kind == "csv":
        rows = [f"customer_{n},{(n * 37) % 100},{seed}" for n in range(50)]
        return ("customer,tenure_days,batch\n" + "\n".join(rows) + "\n").encode()
    if kind == "json":
        return (json.dumps({"file": name, "seed": seed, "rows": 120_000}, indent=2) + "\n").encode()
    if kind in ("txt", "yaml", "html"):
        return f"# {name} of {seed}\nxgboost==2.1.0\nscikit-learn==1.5.2\n".encode()
    return hashlib.shake_256(f"{seed}/{name}".encode()).digest(1024 * (len(name) + len(seed)))


def demo_entries(*names: str, seed: str) -> list[FileEntry]:
    """The manifest of demo files `names` made from `seed`."""
    entries = []
    for name in names:
        data = demo_file(name, seed)
        entries.append(FileEntry(name, hashlib.sha256(data).hexdigest(), len(data)))
    return entries


class DemoFiles:
    """Stores demo files' bytes as the demo logs them, so that every version can be downloaded."""

    def __init__(self, conn: Connection, store: BlobStore, organization_id: int) -> None:
        self.conn = conn
        self.store = store
        self.organization_id = organization_id

    async def __call__(self, *names: str, seed: str) -> list[FileEntry]:
        entries = demo_entries(*names, seed=seed)
        for entry in entries:
            data = demo_file(entry.path, seed)
            digests = await self.store.put(_once(data), sha256=entry.digest, size=entry.size)
            await blobs.record_blobs_txn(self.conn, [digests], self.organization_id)
        return entries


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def seed_demo(pool: asyncpg.Pool, store: BlobStore) -> bool:
    """Fills `acme` unless it already exists; returns whether it did."""
    async with pool.acquire() as conn, conn.transaction():
        # One seeding at a time, even if two `cairn demo` run at once.
        await advisory_xact_lock(conn, "cairn.demo")
        existing = await organizations.organizations_by_name(conn, [ORGANIZATION])
        if existing[0] is not None:
            return False
        await _seed(conn, store)
        return True


async def _seed(conn: Connection, store: BlobStore) -> None:
    org = await create_organization_txn(conn, ORGANIZATION, "Acme Corp")
    files = DemoFiles(conn, store, org.id)
    ada = await accounts.create_user_txn(conn, "ada", "Ada Lovelace")
    bob = await accounts.create_user_txn(conn, "bob", "Bob Shannon")
    cy = await accounts.create_user_txn(conn, "cy", "Cy Hopper")
    for user, role in ((ada, "ADMIN"), (bob, "MEMBER"), (cy, "VIEWER")):
        await add_member_txn(conn, org, user, role)
    model, dataset = await registry_rows.registries_by_organization_name(
        conn, [(org.id, "model"), (org.id, "dataset")]
    )
    assert model is not None
    assert dataset is not None
    # Bob links models and datasets: org members only view registries unless given a role.
    for registry in (model, dataset):
        await registries.set_registry_role_txn(conn, ada.id, registry, bob.id, None, "MEMBER")
    reports = await registries.create_registry_txn(
        conn,
        ada,
        org.id,
        name="eval-reports",
        description="Evaluation reports for models headed to production. Restricted to reviewers.",
        visibility="RESTRICTED",
        accepted_types=["report"],
        protected_aliases=["approved"],
    )
    await _churn_project(conn, files, ada, bob, org.id, model, dataset, reports)
    await _vision_project(conn, files, ada, bob, org.id, model, dataset)


async def _churn_project(
    conn: Connection,
    files: DemoFiles,
    ada: User,
    bob: User,
    org_id: int,
    model: Registry,
    dataset: Registry,
    reports: Registry,
) -> None:
    project = await runs.create_project_txn(
        conn, org_id, "churn", "Predicting which customers will leave."
    )
    ingest = await runs.create_run_txn(conn, bob, project, "ingest-2026-11", {"source": "crm"})
    raw = await runs.log_artifact_txn(
        conn,
        bob,
        project,
        name="customers-raw",
        artifact_type="dataset",
        run=ingest,
        files=await files("customers.csv", "schema.json", seed="raw"),
        metadata={"rows": 120_000, "source": "crm"},
        description="CRM export, unprocessed.",
    )
    await runs.finish_run_txn(conn, ingest, summary={"rows": 120_000})
    await links.link_artifact_txn(conn, bob, raw, dataset, "customers-raw", ["production"])

    cleaned: list[ArtifactVersion] = []
    for i in range(4):
        prep = await runs.create_run_txn(
            conn, bob, project, f"preprocess-{i}", {"dedupe": True, "min_tenure_days": 30 + i}
        )
        await runs.use_artifact_txn(conn, prep, raw)
        clean = await runs.log_artifact_txn(
            conn,
            bob,
            project,
            name="customers-clean",
            artifact_type="dataset",
            run=prep,
            files=await files("train.parquet", "test.parquet", seed=f"clean-{i}"),
            metadata={"rows": 118_000 - i * 500, "features": 42 + i},
            description=f"Deduplicated, tenure ≥ {30 + i} days.",
        )
        await runs.finish_run_txn(conn, prep, summary={"dropped_rows": 2000 + i * 500})
        linked = await links.link_artifact_txn(conn, bob, clean, dataset, "customers")
        cleaned.append(clean)
        if i == 3:
            await versions.add_aliases_txn(conn, ada, linked, ["production"])
        await versions.change_version_tags_txn(conn, bob, linked, ["deduplicated"], add=True)

    await collections.create_collection_txn(
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
        train = await runs.create_run_txn(
            conn, bob, project, f"train-{i}", {"lr": round(0.1 / (i + 1), 4), "epochs": 10 + i}
        )
        await runs.use_artifact_txn(conn, train, cleaned[min(i // 3, 3)])
        trained = await runs.log_artifact_txn(
            conn,
            bob,
            project,
            name="churn-model",
            artifact_type="model",
            run=train,
            files=await files("model.pkl", "requirements.txt", seed=f"churn-{i}"),
            metadata={"auc": round(0.80 + i * 0.01, 3), "framework": "xgboost"},
        )
        await runs.finish_run_txn(conn, train, summary={"auc": round(0.80 + i * 0.01, 3)})
        linked = await links.link_artifact_txn(conn, bob, trained, model, "churn-classifier")
        await versions.change_version_tags_txn(
            conn, bob, linked, ["xgboost"] + (["baseline"] if i == 0 else []), add=True
        )
        models.append(linked)
    await versions.add_aliases_txn(conn, ada, models[7], ["production"])
    await versions.add_aliases_txn(conn, bob, models[9], ["staging"])
    await versions.add_aliases_txn(conn, bob, models[8], ["candidate"])

    for i, candidate in enumerate(models[6:]):
        evaluation = await runs.create_run_txn(conn, ada, project, f"evaluate-{i}")
        await runs.use_artifact_txn(conn, evaluation, candidate)
        report = await runs.log_artifact_txn(
            conn,
            ada,
            project,
            name="churn-eval-report",
            artifact_type="report",
            run=evaluation,
            files=await files("report.html", "metrics.json", seed=f"report-{i}"),
            metadata={"model": f"churn-classifier:v{candidate.version_index}", "passed": i != 1},
        )
        await runs.finish_run_txn(conn, evaluation, summary={"passed": i != 1})
        linked = await links.link_artifact_txn(conn, ada, report, reports, "churn-evals")
        if i == 1:
            await versions.add_aliases_txn(conn, ada, linked, ["approved"])


async def _vision_project(
    conn: Connection,
    files: DemoFiles,
    ada: User,
    bob: User,
    org_id: int,
    model: Registry,
    dataset: Registry,
) -> None:
    project: Project = await runs.create_project_txn(
        conn, org_id, "vision", "Detecting defects on the production line."
    )
    images: list[ArtifactVersion] = []
    for i in range(5):
        collect = await runs.create_run_txn(conn, bob, project, f"collect-{i}")
        logged = await runs.log_artifact_txn(
            conn,
            bob,
            project,
            name="line-images",
            artifact_type="dataset",
            run=collect,
            files=await files("images.tar", "labels.json", seed=f"images-{i}"),
            metadata={"images": 10_000 * (i + 1)},
        )
        await runs.finish_run_txn(conn, collect)
        linked = await links.link_artifact_txn(
            conn, bob, logged, dataset, "line-images", ["staging"] if i == 4 else []
        )
        images.append(logged)
        if i == 3:
            await versions.add_aliases_txn(conn, ada, linked, ["production"])
    await collections.create_collection_txn(
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
        train = await runs.create_run_txn(
            conn, ada, project, f"train-detector-{i}", {"arch": "resnet50", "epochs": 20 + i}
        )
        await runs.use_artifact_txn(conn, train, images[min(i // 2, 4)])
        trained = await runs.log_artifact_txn(
            conn,
            ada,
            project,
            name="defect-detector",
            artifact_type="model",
            run=train,
            files=await files("weights.pt", "config.yaml", seed=f"detector-{i}"),
            metadata={"mAP": round(0.5 + i * 0.03, 3)},
        )
        await runs.finish_run_txn(
            conn, train, state="FAILED" if i == 2 else "FINISHED", summary={"mAP": 0.5 + i * 0.03}
        )
        linked = await links.link_artifact_txn(conn, ada, trained, model, "defect-detector")
        detectors.append(linked)
    await versions.add_aliases_txn(conn, ada, detectors[6], ["production"])
    await versions.add_aliases_txn(conn, ada, detectors[7], ["staging"])


async def demo_key(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        return await accounts.create_api_key_txn(
            conn, "ada", organization=ORGANIZATION, key_name="demo"
        )
