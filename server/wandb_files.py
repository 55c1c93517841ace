"""The wandb SDK's own file route: a file asked for by its collection and the MD5 of its bytes,
with the caller's key, when the SDK holds no signed URL for it (`artifact.file()`,
`get_entry(…).download()` on an artifact fetched afresh). Answered with a redirect to the file's
signed URL, so that bytes always travel through the transfer routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from resolvers import files
from resolvers.accounts import authenticate
from resolvers.errors import DomainError, ErrorCode
from server.graphql_http import WANDB_BASIC, GraphQLEndpoint, request_id_of
from server.transfers import refusal

# {region}/{entity}/{project}/{collection}/{birth artifact id}/{md5 hex}/{file name}, with the
# artifact's own ID before the birth ID when the SDK knows the server takes it.
PARTS = (7, 8)


async def artifact_file(endpoint: GraphQLEndpoint, request: Request) -> Response:
    parts = request.path_params["rest"].split("/")
    if len(parts) not in PARTS:
        return refusal(404, "expected /artifactsV2/<region>/<entity>/<project>/<collection>/…")
    _, entity, project, collection, *_, md5, name = parts
    key = WANDB_BASIC.read(request)
    principal = None if key is None else await authenticate(endpoint.pool, key)
    if principal is None:
        return refusal(401, WANDB_BASIC.missing if key is None else "the API key is not valid")
    ctx = endpoint.context(principal, request_id_of(request), request)
    try:
        url = await files.download_url_by_md5(ctx, entity, project, collection, md5, name)
    except DomainError as error:
        status = 403 if error.code is ErrorCode.PERMISSION_DENIED else 404
        return refusal(status, error.message)
    return RedirectResponse(url, status_code=307)
