"""The root mutation type: one `input:` per mutation, a payload with the changed objects and
`errors: [UserError!]!` with stable codes. Each field calls one function of
`resolvers.mutations`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from resolvers import mutations
from resolvers.errors import DomainError
from resolvers.errors import ErrorCode as DomainErrorCode
from schema.ids import decode_id, encode_id
from schema.types import (
    ArtifactVersion,
    Collection,
    Ctx,
    Project,
    Registry,
    RegistryVisibility,
    Run,
    RunState,
)

T = TypeVar("T")


@strawberry.enum(description="Why a mutation was refused. Codes are stable; messages may change.")
class ErrorCode(Enum):
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="The object named does not exist, or you may not see it."
    )
    PERMISSION_DENIED = strawberry.enum_value(
        "PERMISSION_DENIED",
        description="You may see the object but your role does not allow this change.",
    )
    UNAUTHENTICATED = strawberry.enum_value(
        "UNAUTHENTICATED", description="No valid API key was given."
    )
    INVALID_PATH = strawberry.enum_value(
        "INVALID_PATH", description="A path is malformed; the message names the part."
    )
    INVALID_ID = strawberry.enum_value(
        "INVALID_ID", description="An ID is malformed or names the wrong kind of object."
    )
    INVALID_ARGUMENT = strawberry.enum_value(
        "INVALID_ARGUMENT",
        description="An argument is out of range, of the wrong shape, or inconsistent.",
    )
    INVALID_NAME = strawberry.enum_value(
        "INVALID_NAME", description="A name, type, alias or tag breaks the naming rules."
    )
    TYPE_MISMATCH = strawberry.enum_value(
        "TYPE_MISMATCH",
        description="The artifact type does not match the collection's or the artifact's.",
    )
    TYPE_NOT_ACCEPTED = strawberry.enum_value(
        "TYPE_NOT_ACCEPTED", description="The registry does not accept this artifact type."
    )
    RESERVED_ALIAS = strawberry.enum_value(
        "RESERVED_ALIAS", description="`latest` and `v<N>` are kept by the server."
    )
    PROTECTED_ALIAS = strawberry.enum_value(
        "PROTECTED_ALIAS", description="Only registry admins may add, move or remove this alias."
    )
    NAME_TAKEN = strawberry.enum_value("NAME_TAKEN", description="The name is already in use.")
    RUN_FINISHED = strawberry.enum_value(
        "RUN_FINISHED", description="The run has ended and can no longer change or log."
    )
    ALREADY_MEMBER = strawberry.enum_value(
        "ALREADY_MEMBER", description="The user already belongs to the organization."
    )
    LAST_ADMIN = strawberry.enum_value(
        "LAST_ADMIN", description="The change would leave the organization without an admin."
    )
    INVALID_TEMPLATE = strawberry.enum_value(
        "INVALID_TEMPLATE",
        description="A payload template is not JSON or names an unknown variable.",
    )
    BLOCKED_DESTINATION = strawberry.enum_value(
        "BLOCKED_DESTINATION",
        description="A webhook URL points at a loopback, link-local or private address.",
    )


@strawberry.type(description="Why a mutation was refused; nothing was changed.")
class UserError:
    code: ErrorCode = strawberry.field(description="A stable code to branch on.")
    message: str = strawberry.field(description="What is wrong, for people.")
    field: list[str] | None = strawberry.field(
        description='The path of the input field at fault, e.g. `["input", "aliases"]`.'
    )


def _user_error(error: DomainError) -> UserError:
    return UserError(
        code=ErrorCode[error.code.name],
        message=error.message,
        field=["input", *error.field] if error.field else None,
    )


def input_id(global_id: strawberry.ID | None, kinds: tuple[str, ...], field: str) -> int | None:
    """The row id behind a global ID of one of `kinds`, or a payload error naming `field`."""
    if global_id is None:
        return None
    try:
        kind, row_id = decode_id(global_id)
    except GraphQLError:
        kind, row_id = "", 0
    if kind not in kinds:
        raise DomainError(
            DomainErrorCode.INVALID_ID,
            f"`{field}` must be the ID of a {' or '.join(kinds)}",
            (field,),
        )
    return row_id


async def run_mutation(
    info: Ctx, action: Callable[[], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Runs one mutation: refusals become payload errors; a mutation that ran to the end
    without an authorization check is a bug and fails the request."""
    ctx = info.context
    ctx.authorization_checked = False
    try:
        result = await action()
    except DomainError as error:
        return None, [_user_error(error)]
    if not ctx.authorization_checked:
        raise RuntimeError("a mutation completed without an authorization check")
    return result, []


def maybe(wrap: Callable[[Any], T], value: Any) -> T | None:
    return None if value is None else wrap(value)


Errors = strawberry.field(description="Why the mutation was refused; empty on success.")

# Inputs and payloads


@strawberry.input(description="A new project.")
class CreateProjectInput:
    organization: str = strawberry.field(description="Organization slug.")
    name: str = strawberry.field(description="Project name, unique in the organization.")
    description: str | None = strawberry.field(default=None, description="What it is for.")


@strawberry.type(description="The result of `createProject`.")
class CreateProjectPayload:
    project: Project | None = strawberry.field(description="The new project.")
    errors: list[UserError] = Errors


@strawberry.input(description="A new run in a project.")
class CreateRunInput:
    project_id: strawberry.ID = strawberry.field(description="The project's ID.")
    name: str = strawberry.field(description="Run name, unique in the project.")
    config: JSON | None = strawberry.field(
        default=None, description="Configuration (a JSON object)."
    )


@strawberry.type(description="The result of a mutation on a run.")
class RunPayload:
    run: Run | None = strawberry.field(description="The run as it is now.")
    errors: list[UserError] = Errors


@strawberry.input(description="Changes to a run.")
class UpdateRunInput:
    run_id: strawberry.ID = strawberry.field(description="The run's ID.")
    state: RunState | None = strawberry.field(
        default=None, description="A new state; any but RUNNING ends the run."
    )
    summary: JSON | None = strawberry.field(
        default=None, description="Summary values to merge into the run's (a JSON object)."
    )


@strawberry.input(description="Ends a run.")
class FinishRunInput:
    run_id: strawberry.ID = strawberry.field(description="The run's ID.")
    state: RunState = strawberry.field(
        default=RunState.FINISHED, description="FINISHED (default), FAILED or CRASHED."
    )
    summary: JSON | None = strawberry.field(
        default=None, description="Final summary values to merge in (a JSON object)."
    )


@strawberry.input(description="One file of an artifact version's manifest.")
class ArtifactFileInput:
    path: str = strawberry.field(description="Path inside the artifact.")
    digest: str = strawberry.field(description="Digest of the file's bytes.")
    size: int = strawberry.field(description="Size in bytes.")


@strawberry.input(description="A version of an artifact to log, from a run or a project.")
class LogArtifactInput:
    run_id: strawberry.ID | None = strawberry.field(
        default=None, description="The running run that logs it (give this or projectId)."
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=None, description="The project, for versions logged without a run."
    )
    name: str = strawberry.field(description="Artifact name, e.g. `churn-model`.")
    type: str = strawberry.field(description="Artifact type, e.g. `model`.")
    files: list[ArtifactFileInput] = strawberry.field(
        description="The file manifest; the content digest is computed from it."
    )
    metadata: JSON | None = strawberry.field(default=None, description="A JSON object.")
    description: str | None = strawberry.field(default=None, description="Description.")
    aliases: list[str] = strawberry.field(
        default_factory=list, description="Aliases to give the version in its sequence."
    )


@strawberry.type(description="The result of `logArtifact` and `updateArtifactVersion`.")
class ArtifactVersionPayload:
    artifact_version: ArtifactVersion | None = strawberry.field(
        description="The version as it is now (for a manifest logged before, the existing one)."
    )
    errors: list[UserError] = Errors


@strawberry.input(description="Records that a run used a version (a lineage input).")
class UseArtifactInput:
    run_id: strawberry.ID = strawberry.field(description="The run.")
    version_id: strawberry.ID | None = strawberry.field(
        default=None, description="The version used (give this or path)."
    )
    path: str | None = strawberry.field(default=None, description="The version's path.")


@strawberry.type(description="The result of `useArtifact`.")
class UseArtifactPayload:
    run: Run | None = strawberry.field(description="The run.")
    artifact_version: ArtifactVersion | None = strawberry.field(description="The version used.")
    errors: list[UserError] = Errors


@strawberry.input(description="A new custom registry.")
class CreateRegistryInput:
    organization: str = strawberry.field(description="Organization slug.")
    name: str = strawberry.field(description="1 to 113 characters, none of / \\ # ? % :")
    description: str | None = strawberry.field(default=None, description="Description.")
    visibility: RegistryVisibility = strawberry.field(
        default=RegistryVisibility.ORGANIZATION, description="Who can see it."
    )
    accepted_types: list[str] = strawberry.field(
        default_factory=list, description="Artifact types it accepts; empty accepts all."
    )
    protected_aliases: list[str] = strawberry.field(
        default_factory=list, description="Aliases only its admins may change."
    )


@strawberry.type(description="The result of a mutation on a registry.")
class RegistryPayload:
    registry: Registry | None = strawberry.field(description="The registry as it is now.")
    errors: list[UserError] = Errors


@strawberry.input(description="Changes to a registry's settings.")
class UpdateRegistryInput:
    registry_id: strawberry.ID = strawberry.field(description="The registry.")
    description: str | None = strawberry.field(default=None, description="New description.")
    visibility: RegistryVisibility | None = strawberry.field(
        default=None, description="New visibility (core registries stay ORGANIZATION)."
    )
    add_accepted_types: list[str] = strawberry.field(
        default_factory=list, description="Types to accept too; accepted types only grow."
    )
    accept_all_types: bool = strawberry.field(
        default=False, description="True to accept every type from now on."
    )
    protected_aliases: list[str] | None = strawberry.field(
        default=None, description="The new list of protected aliases (replaces the old one)."
    )


@strawberry.input(description="A registry to delete, with its collections and links.")
class DeleteRegistryInput:
    registry_id: strawberry.ID = strawberry.field(description="The registry.")


@strawberry.type(description="The result of `deleteRegistry`.")
class DeleteRegistryPayload:
    deleted_registry_id: strawberry.ID | None = strawberry.field(
        description="The ID of the deleted registry."
    )
    errors: list[UserError] = Errors


@strawberry.input(description="A new collection in a registry.")
class CreateCollectionInput:
    registry_id: strawberry.ID = strawberry.field(description="The registry.")
    name: str = strawberry.field(description="Name, unique in the registry, at most 128.")
    type: str = strawberry.field(description="Artifact type; the registry must accept it.")
    description: str | None = strawberry.field(default=None, description="Markdown card.")
    tags: list[str] = strawberry.field(default_factory=list, description="Tags.")


@strawberry.type(description="The result of a mutation on a collection.")
class CollectionPayload:
    collection: Collection | None = strawberry.field(description="The collection.")
    errors: list[UserError] = Errors


@strawberry.input(description="Changes to a collection.")
class UpdateCollectionInput:
    collection_id: strawberry.ID = strawberry.field(description="The collection.")
    name: str | None = strawberry.field(default=None, description="New name.")
    description: str | None = strawberry.field(default=None, description="New description.")


@strawberry.input(description="A collection to delete, with its versions.")
class DeleteCollectionInput:
    collection_id: strawberry.ID = strawberry.field(description="The collection.")


@strawberry.type(description="The result of `deleteCollection`.")
class DeleteCollectionPayload:
    deleted_collection_id: strawberry.ID | None = strawberry.field(
        description="The ID of the deleted collection."
    )
    errors: list[UserError] = Errors


@strawberry.input(description="Links a version into a registry collection.")
class LinkArtifactInput:
    version_id: strawberry.ID | None = strawberry.field(
        default=None, description="The version to link (give this or sourcePath)."
    )
    source_path: str | None = strawberry.field(
        default=None, description="The version's path, e.g. `acme/churn/churn-model:v3`."
    )
    target_path: str | None = strawberry.field(
        default=None,
        description="`[org/]wandb-registry-<registry>/<collection>`; a missing collection is "
        "created with the version's type (give this or collectionId).",
    )
    collection_id: strawberry.ID | None = strawberry.field(
        default=None, description="The target collection."
    )
    aliases: list[str] = strawberry.field(
        default_factory=list, description="Aliases to give the linked version."
    )


@strawberry.type(description="The result of `linkArtifact`.")
class LinkArtifactPayload:
    artifact_version: ArtifactVersion | None = strawberry.field(
        description="The version in the collection (the existing one if already linked)."
    )
    errors: list[UserError] = Errors


@strawberry.input(description="Removes a version from its registry collection.")
class UnlinkArtifactInput:
    version_id: strawberry.ID | None = strawberry.field(
        default=None, description="The linked version (give this or path)."
    )
    path: str | None = strawberry.field(default=None, description="The linked version's path.")


@strawberry.type(description="The result of `unlinkArtifact`.")
class UnlinkArtifactPayload:
    collection: Collection | None = strawberry.field(description="The collection now.")
    unlinked_version_id: strawberry.ID | None = strawberry.field(
        description="The ID of the removed version."
    )
    errors: list[UserError] = Errors


@strawberry.input(description="Aliases to add to, or remove from, a version.")
class AliasesInput:
    version_id: strawberry.ID | None = strawberry.field(
        default=None, description="The version (give this or path)."
    )
    path: str | None = strawberry.field(default=None, description="The version's path.")
    aliases: list[str] = strawberry.field(
        description="Aliases; adding one another version holds moves it here."
    )


@strawberry.input(description="Tags to add to, or remove from, a collection or version.")
class TagsInput:
    id: strawberry.ID = strawberry.field(description="A Collection or ArtifactVersion ID.")
    tags: list[str] = strawberry.field(description="Tags.")


@strawberry.type(description="The result of `addTags` and `removeTags`.")
class TagsPayload:
    collection: Collection | None = strawberry.field(
        description="The collection, when the tags were on one."
    )
    artifact_version: ArtifactVersion | None = strawberry.field(
        description="The version, when the tags were on one."
    )
    errors: list[UserError] = Errors


@strawberry.input(description="Changes to a version's content description.")
class UpdateArtifactVersionInput:
    version_id: strawberry.ID = strawberry.field(description="The version.")
    description: str = strawberry.field(description="New description (shared by its links).")


Input = Annotated[Any, strawberry.argument(description="The mutation's input.")]

VERSION = ("ArtifactVersion",)
REGISTRY = ("Registry",)
COLLECTION = ("Collection",)


@strawberry.type(description="Changes to registries, collections, versions, projects and runs.")
class RegistryMutation:
    @strawberry.mutation(description="Creates a project (organization MEMBER).")
    async def create_project(
        self,
        info: Ctx,
        input: Annotated[CreateProjectInput, strawberry.argument(description="The new project.")],
    ) -> CreateProjectPayload:
        ctx = info.context
        result, errors = await run_mutation(
            info,
            lambda: mutations.create_project(
                ctx, input.organization, input.name, input.description
            ),
        )
        return CreateProjectPayload(project=maybe(Project.of, result), errors=errors)

    @strawberry.mutation(description="Starts a run in a project (organization MEMBER).")
    async def create_run(
        self,
        info: Ctx,
        input: Annotated[CreateRunInput, strawberry.argument(description="The new run.")],
    ) -> RunPayload:
        ctx = info.context

        async def action() -> Any:
            project_id = input_id(input.project_id, ("Project",), "projectId")
            assert project_id is not None
            return await mutations.create_run(ctx, project_id, input.name, input.config)

        result, errors = await run_mutation(info, action)
        return RunPayload(run=maybe(Run.of, result), errors=errors)

    @strawberry.mutation(description="Changes a run's state and merges into its summary.")
    async def update_run(
        self,
        info: Ctx,
        input: Annotated[UpdateRunInput, strawberry.argument(description="The changes.")],
    ) -> RunPayload:
        ctx = info.context

        async def action() -> Any:
            run_id = input_id(input.run_id, ("Run",), "runId")
            assert run_id is not None
            state = None if input.state is None else input.state.name
            return await mutations.update_run(ctx, run_id, state, input.summary)

        result, errors = await run_mutation(info, action)
        return RunPayload(run=maybe(Run.of, result), errors=errors)

    @strawberry.mutation(description="Ends a run.")
    async def finish_run(
        self,
        info: Ctx,
        input: Annotated[FinishRunInput, strawberry.argument(description="The run.")],
    ) -> RunPayload:
        ctx = info.context

        async def action() -> Any:
            run_id = input_id(input.run_id, ("Run",), "runId")
            assert run_id is not None
            return await mutations.finish_run(ctx, run_id, input.state.name, input.summary)

        result, errors = await run_mutation(info, action)
        return RunPayload(run=maybe(Run.of, result), errors=errors)

    @strawberry.mutation(
        description="Logs a version of an artifact. The same manifest in the same artifact "
        "returns the existing version; versions are numbered v0, v1, … and `latest` follows."
    )
    async def log_artifact(
        self,
        info: Ctx,
        input: Annotated[LogArtifactInput, strawberry.argument(description="The version to log.")],
    ) -> ArtifactVersionPayload:
        ctx = info.context

        async def action() -> Any:
            return await mutations.log_artifact(
                ctx,
                run_id=input_id(input.run_id, ("Run",), "runId"),
                project_id=input_id(input.project_id, ("Project",), "projectId"),
                name=input.name,
                artifact_type=input.type,
                files=[(f.path, f.digest, f.size) for f in input.files],
                metadata=input.metadata,
                description=input.description,
                aliases=input.aliases,
            )

        result, errors = await run_mutation(info, action)
        return ArtifactVersionPayload(
            artifact_version=maybe(ArtifactVersion.of, result), errors=errors
        )

    @strawberry.mutation(description="Records that a run used a version (a lineage input).")
    async def use_artifact(
        self,
        info: Ctx,
        input: Annotated[UseArtifactInput, strawberry.argument(description="The use.")],
    ) -> UseArtifactPayload:
        ctx = info.context

        async def action() -> Any:
            run_id = input_id(input.run_id, ("Run",), "runId")
            assert run_id is not None
            return await mutations.use_artifact(
                ctx, run_id, input_id(input.version_id, VERSION, "versionId"), input.path
            )

        result, errors = await run_mutation(info, action)
        run, version = result if result is not None else (None, None)
        return UseArtifactPayload(
            run=maybe(Run.of, run),
            artifact_version=maybe(ArtifactVersion.of, version),
            errors=errors,
        )

    @strawberry.mutation(description="Creates a custom registry (organization MEMBER).")
    async def create_registry(
        self,
        info: Ctx,
        input: Annotated[CreateRegistryInput, strawberry.argument(description="The registry.")],
    ) -> RegistryPayload:
        ctx = info.context
        result, errors = await run_mutation(
            info,
            lambda: mutations.create_registry(
                ctx,
                organization=input.organization,
                name=input.name,
                description=input.description,
                visibility=input.visibility.name,
                accepted_types=input.accepted_types,
                protected_aliases=input.protected_aliases,
            ),
        )
        return RegistryPayload(registry=maybe(Registry.of, result), errors=errors)

    @strawberry.mutation(description="Changes a registry's settings (registry ADMIN).")
    async def update_registry(
        self,
        info: Ctx,
        input: Annotated[UpdateRegistryInput, strawberry.argument(description="The changes.")],
    ) -> RegistryPayload:
        ctx = info.context

        async def action() -> Any:
            registry_id = input_id(input.registry_id, REGISTRY, "registryId")
            assert registry_id is not None
            return await mutations.update_registry(
                ctx,
                registry_id,
                description=input.description,
                visibility=None if input.visibility is None else input.visibility.name,
                add_accepted_types=input.add_accepted_types,
                accept_all_types=input.accept_all_types,
                protected_aliases=input.protected_aliases,
            )

        result, errors = await run_mutation(info, action)
        return RegistryPayload(registry=maybe(Registry.of, result), errors=errors)

    @strawberry.mutation(
        description="Deletes a registry with its collections and links; logged artifacts and "
        "runs stay (registry ADMIN; core registries cannot be deleted)."
    )
    async def delete_registry(
        self,
        info: Ctx,
        input: Annotated[DeleteRegistryInput, strawberry.argument(description="The registry.")],
    ) -> DeleteRegistryPayload:
        ctx = info.context

        async def action() -> Any:
            registry_id = input_id(input.registry_id, REGISTRY, "registryId")
            assert registry_id is not None
            await mutations.delete_registry(ctx, registry_id)
            return input.registry_id

        result, errors = await run_mutation(info, action)
        return DeleteRegistryPayload(deleted_registry_id=result, errors=errors)

    @strawberry.mutation(description="Creates a collection in a registry (registry MEMBER).")
    async def create_collection(
        self,
        info: Ctx,
        input: Annotated[CreateCollectionInput, strawberry.argument(description="The collection.")],
    ) -> CollectionPayload:
        ctx = info.context

        async def action() -> Any:
            registry_id = input_id(input.registry_id, REGISTRY, "registryId")
            assert registry_id is not None
            return await mutations.create_collection(
                ctx,
                registry_id,
                name=input.name,
                artifact_type=input.type,
                description=input.description,
                tags=input.tags,
            )

        result, errors = await run_mutation(info, action)
        return CollectionPayload(collection=maybe(Collection.of, result), errors=errors)

    @strawberry.mutation(description="Renames or re-describes a collection (registry MEMBER).")
    async def update_collection(
        self,
        info: Ctx,
        input: Annotated[UpdateCollectionInput, strawberry.argument(description="The changes.")],
    ) -> CollectionPayload:
        ctx = info.context

        async def action() -> Any:
            collection_id = input_id(input.collection_id, COLLECTION, "collectionId")
            assert collection_id is not None
            return await mutations.update_collection(
                ctx, collection_id, name=input.name, description=input.description
            )

        result, errors = await run_mutation(info, action)
        return CollectionPayload(collection=maybe(Collection.of, result), errors=errors)

    @strawberry.mutation(description="Deletes a collection and its versions (registry MEMBER).")
    async def delete_collection(
        self,
        info: Ctx,
        input: Annotated[DeleteCollectionInput, strawberry.argument(description="The collection.")],
    ) -> DeleteCollectionPayload:
        ctx = info.context

        async def action() -> Any:
            collection_id = input_id(input.collection_id, COLLECTION, "collectionId")
            assert collection_id is not None
            await mutations.delete_collection(ctx, collection_id)
            return input.collection_id

        result, errors = await run_mutation(info, action)
        return DeleteCollectionPayload(deleted_collection_id=result, errors=errors)

    @strawberry.mutation(
        description="Links a version into a registry collection (registry MEMBER). The new "
        "version gets the collection's next index and `latest`; content already there returns "
        "the existing version; linking a linked version links its source."
    )
    async def link_artifact(
        self,
        info: Ctx,
        input: Annotated[LinkArtifactInput, strawberry.argument(description="The link.")],
    ) -> LinkArtifactPayload:
        ctx = info.context

        async def action() -> Any:
            return await mutations.link_artifact(
                ctx,
                version_id=input_id(input.version_id, VERSION, "versionId"),
                source_path=input.source_path,
                target_path=input.target_path,
                collection_id=input_id(input.collection_id, COLLECTION, "collectionId"),
                aliases=input.aliases,
            )

        result, errors = await run_mutation(info, action)
        return LinkArtifactPayload(
            artifact_version=maybe(ArtifactVersion.of, result), errors=errors
        )

    @strawberry.mutation(
        description="Removes a version from its registry collection; its index is not reused "
        "and `latest` moves to the newest remaining version (registry MEMBER)."
    )
    async def unlink_artifact(
        self,
        info: Ctx,
        input: Annotated[UnlinkArtifactInput, strawberry.argument(description="The version.")],
    ) -> UnlinkArtifactPayload:
        ctx = info.context

        async def action() -> Any:
            return await mutations.unlink_artifact(
                ctx, input_id(input.version_id, VERSION, "versionId"), input.path
            )

        result, errors = await run_mutation(info, action)
        collection, version = result if result is not None else (None, None)
        return UnlinkArtifactPayload(
            collection=maybe(Collection.of, collection),
            # The version's own ID, also when it was named by path.
            unlinked_version_id=None
            if version is None
            else strawberry.ID(encode_id("ArtifactVersion", version.id)),
            errors=errors,
        )

    @strawberry.mutation(
        description="Gives a version aliases, moving each from the version that held it."
    )
    async def add_aliases(
        self,
        info: Ctx,
        input: Annotated[AliasesInput, strawberry.argument(description="The aliases.")],
    ) -> ArtifactVersionPayload:
        return await _aliases(info, input, add=True)

    @strawberry.mutation(description="Takes aliases off a version.")
    async def remove_aliases(
        self,
        info: Ctx,
        input: Annotated[AliasesInput, strawberry.argument(description="The aliases.")],
    ) -> ArtifactVersionPayload:
        return await _aliases(info, input, add=False)

    @strawberry.mutation(description="Adds tags to a collection or a version.")
    async def add_tags(
        self, info: Ctx, input: Annotated[TagsInput, strawberry.argument(description="The tags.")]
    ) -> TagsPayload:
        return await _tags(info, input, add=True)

    @strawberry.mutation(description="Removes tags from a collection or a version.")
    async def remove_tags(
        self, info: Ctx, input: Annotated[TagsInput, strawberry.argument(description="The tags.")]
    ) -> TagsPayload:
        return await _tags(info, input, add=False)

    @strawberry.mutation(description="Changes a version's description.")
    async def update_artifact_version(
        self,
        info: Ctx,
        input: Annotated[
            UpdateArtifactVersionInput, strawberry.argument(description="The change.")
        ],
    ) -> ArtifactVersionPayload:
        ctx = info.context

        async def action() -> Any:
            version_id = input_id(input.version_id, VERSION, "versionId")
            assert version_id is not None
            return await mutations.update_artifact_version(ctx, version_id, input.description)

        result, errors = await run_mutation(info, action)
        return ArtifactVersionPayload(
            artifact_version=maybe(ArtifactVersion.of, result), errors=errors
        )


async def _aliases(info: Ctx, input: AliasesInput, *, add: bool) -> ArtifactVersionPayload:
    ctx = info.context

    async def action() -> Any:
        version = await mutations.change_aliases(
            ctx,
            input_id(input.version_id, VERSION, "versionId"),
            input.path,
            input.aliases,
            add=add,
        )
        return await mutations.reload_version(ctx, version.id)

    result, errors = await run_mutation(info, action)
    return ArtifactVersionPayload(artifact_version=maybe(ArtifactVersion.of, result), errors=errors)


async def _tags(info: Ctx, input: TagsInput, *, add: bool) -> TagsPayload:
    ctx = info.context
    kinds = ("Collection", "ArtifactVersion")

    async def action() -> Any:
        try:
            kind, _ = decode_id(input.id)
        except GraphQLError:
            kind = ""
        row_id = input_id(input.id, kinds, "id")
        assert row_id is not None
        return kind, await mutations.change_tags(ctx, kind, row_id, input.tags, add=add)

    result, errors = await run_mutation(info, action)
    if result is None:
        return TagsPayload(collection=None, artifact_version=None, errors=errors)
    kind, target = result
    return TagsPayload(
        collection=Collection.of(target) if kind == "Collection" else None,
        artifact_version=ArtifactVersion.of(target) if kind == "ArtifactVersion" else None,
        errors=errors,
    )
