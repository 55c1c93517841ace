"""The two Python snippets of the registry documentation's quickstart, verbatim, with their
placeholders: the template first, then the worked example that logs `my_model.txt`. Their
trailing spaces are the documentation's own."""

# ruff: noqa: W291

TEMPLATE = """import wandb

# Start a new W&B run to track your experiment
run = wandb.init(project="<project_name>") 

# log an artifact version 
logged_artifact = run.log_artifact(
    artifact_or_path="<artifact>", 
    name="<artifact_name>", 
    type="<type>"
    )

# Provide the entity of your organization
org_entity = "<organization_entity>"

# The name of the registry you want to link to
registry_name = "<registry_name>"

# The name of the collection you want to link to. 
# If the collection does not exist, W&B creates one for you
collection_name = "<collection_name>"

# The full path of the collection and registry
path = f"{org_entity}/wandb-registry-{registry_name}/{collection_name}"

# Link artifact to the collection in the registry 
# specified in target_path
run.link_artifact(artifact = artifact, target_path = path)

run.finish()
"""

EXAMPLE = """import wandb
import random

# Start a new W&B run to track your experiment
run = wandb.init(project="registry_quickstart") 

# Simulate logging model metrics
run.log({"acc": random.random()})

# Create a pseudo model file
with open("my_model.txt", "w") as f:
   f.write("Model: " + str(random.random()))

# log an artifact version 
logged_artifact = run.log_artifact(
    artifact_or_path="./my_model.txt", 
    name="gemma-finetuned-3twsov9e", 
    type="model"
    )

# Provide the name of your organization
org_entity = "<organization_entity>"

# The name of the registry
registry = "model"

# The name of the collection
collection = "quickstart-collection"

# link the model to the predefined core Models registry 
run.link_artifact(
    artifact=logged_artifact, 
    target_path=f"{org_entity}/wandb-registry-{registry}/registry-{collection}"
    )

run.finish()
"""


def filled(snippet: str, **values: str) -> str:
    """The snippet with each `<name>` placeholder replaced; fails on one left unfilled."""
    for name, value in values.items():
        placeholder = f"<{name}>"
        assert placeholder in snippet, placeholder
        snippet = snippet.replace(placeholder, value)
    assert "<" not in snippet.replace("<-", ""), snippet
    return snippet
