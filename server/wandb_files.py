"""The wandb SDK's own HTTP routes beside its GraphQL, with the caller's key.

- A file asked for by its collection and the MD5 of its bytes, when the SDK holds no signed URL
  for it (`artifact.file()`, `get_entry(…).download()` on an artifact fetched afresh), answered
  with a redirect to the file's signed URL, so that bytes always travel through the transfer
  routes.
- A run's file stream: its history, summary and end, as `run.log` and `run.finish` send them."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from resolvers import files, runs
from resolvers.accounts import authenticate
from resolvers.context import Context
from resolvers.errors import DomainError, ErrorCode
from server.graphql_http import (
    WANDB_BASIC,
    GraphQLEndpoint,
    RequestRefused,
    read_json,
    request_id_of,
)
from server.transfers import refusal

# The SDK sends at most a few MB of lines per request; more is refused before it is parsed.
MAX_STREAM_BYTES = 16 * 2**20

# {region}/{entity}/{project}/{collection}/{birth artifact id}/{md5 hex}/{file name}, with the
# artifact's own ID before the birth ID when the SDK knows the server takes it.
PARTS = (7, 8)


async def artifact_file(endpoint: GraphQLEndpoint, request: Request) -> Response:
    parts = request.path_params["rest"].split("/")
    if len(parts) not in PARTS:
        return refusal(404, "expected /artifactsV2/<region>/<entity>/<project>/<collection>/…")
    _, entity, project, collection, *_, md5, name = parts
    ctx = await _context(endpoint, request)
    if isinstance(ctx, Response):
        return ctx
    try:
        url = await files.download_url_by_md5(ctx, entity, project, collection, md5, name)
    except DomainError as error:
        status = 403 if error.code is ErrorCode.PERMISSION_DENIED else 404
        return refusal(status, error.message)
    return RedirectResponse(url, status_code=307)


async def file_stream(endpoint: GraphQLEndpoint, request: Request) -> Response:
    """`POST /files/{entity}/{project}/{run}/file_stream`: what a run streamed since the last
    request. Answered `{}`, as the SDK expects when nothing asks it to stop or slow down."""
    ctx = await _context(endpoint, request)
    if isinstance(ctx, Response):
        return ctx
    try:
        sent = await read_json(request, MAX_STREAM_BYTES)
    except RequestRefused as refused:
        return refusal(refused.status, refused.message)
    except ClientDisconnect:
        return refusal(400, "the request was cut off")
    if not isinstance(sent, dict):
        return refusal(400, "the file stream request must be a JSON object")
    path = request.path_params
    try:
        await runs.stream_run(ctx, path["entity"], path["project"], path["run"], sent)
    except DomainError as error:
        return refusal(_status(error), error.message)
    return JSONResponse({})


async def _context(endpoint: GraphQLEndpoint, request: Request) -> Context | Response:
    """The caller's context, from the key the SDK sends; or the refusal to send back."""
    key = WANDB_BASIC.read(request)
    principal = None if key is None else await authenticate(endpoint.pool, key, endpoint.verified)
    if principal is None:
        return refusal(401, WANDB_BASIC.missing if key is None else "the API key is not valid")
    return endpoint.context(principal, request_id_of(request), request)


def _status(error: DomainError) -> int:
    if error.code is ErrorCode.NOT_FOUND:
        return 404
    if error.code is ErrorCode.PERMISSION_DENIED:
        return 403
    return 400
