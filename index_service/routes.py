"""The index service's internal HTTP API (service token required on every route)."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
from aiohttp import web

from contracts.ids import SCHEMA_ID_RULE, is_schema_id
from contracts.models import (
    AwaitInput,
    BlobBatch,
    BlobBatchRequest,
    BlobList,
    CompileRequest,
    CreateBook,
    CreateUserBlob,
    CreateUserBook,
    ProcessorRegistration,
    RecordFailure,
    RegisterDerivedBlob,
    RegisterSchema,
    UpdateBook,
    UpdateUserBlob,
    ValidationResult,
)
from contracts.problems import FieldError
from servicekit.app import BODIES
from servicekit.bodies import json_response
from servicekit.errors import Unprocessable
from servicekit.params import id_param, int_param, user_param
from servicekit.urls import url_path

from .keys import BLOBS, BOOKS, FAILURES, PROCESSOR_LANE, PROCESSORS, SCHEMAS
from .processing import follow

routes = web.RouteTableDef()
MAX_LIMIT = 500


def limit_param(request: web.Request, default: int = 50) -> int:
    return int_param(request, "limit", default=default, minimum=1, maximum=MAX_LIMIT) or default


# Blobs -------------------------------------------------------------------------------------------


@routes.post("/api/v1/blobs")
async def create_blob(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, CreateUserBlob)
    blob = await request.app[BLOBS].create(body)
    return json_response(blob, status=201, headers={"Location": url_path("api", "v1", "blobs", blob.id)})


@routes.post("/api/v1/blobs/batch")
async def batch_blobs(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, BlobBatchRequest)
    blobs, missing = await request.app[BLOBS].batch(body.user_id, body.ids)
    return json_response(BlobBatch(blobs=msgspec.to_builtins(blobs), missing=missing))


@routes.get("/api/v1/blobs/{blob_id}")
async def get_blob(request: web.Request) -> web.Response:
    """The user's blob, what was made from it, and where each processor is with its current version."""
    view = await request.app[BLOBS].get(user_param(request), request.match_info["blob_id"])
    return json_response(follow(view, await request.app[PROCESSORS].all()))


@routes.put("/api/v1/blobs/{blob_id}")
async def update_blob(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, UpdateUserBlob)
    return json_response(await request.app[BLOBS].update(request.match_info["blob_id"], body))


@routes.delete("/api/v1/blobs/{blob_id}")
async def delete_blob(request: web.Request) -> web.Response:
    reason = request.query.get("reason") or None
    if reason not in (None, "superseded"):
        raise Unprocessable("reason may only be 'superseded'", errors=[FieldError(pointer="/reason", detail="unknown")])
    # A processor dropping what an older version made takes its turn; a writer's delete does not wait.
    turn = request.app[PROCESSOR_LANE].turn() if reason == "superseded" else contextlib.nullcontext()
    async with turn:
        await request.app[BLOBS].delete(user_param(request), request.match_info["blob_id"], reason=reason)
    return web.Response(status=204)


@routes.get("/api/v1/users/{uid}/blobs")
async def list_blobs(request: web.Request) -> web.Response:
    blobs, cursor = await request.app[BLOBS].list_user_blobs(
        user_param(request),
        book_id=request.query.get("book_id") or None,
        type_=request.query.get("type") or None,
        limit=limit_param(request),
        cursor=request.query.get("cursor") or None,
    )
    registrations = await request.app[PROCESSORS].all()
    return json_response(BlobList(blobs=[follow(b, registrations) for b in blobs], next_cursor=cursor))


# The BlobIndex -----------------------------------------------------------------------------------


@routes.post("/api/v1/blob-index")
async def register_derived(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, RegisterDerivedBlob)
    # Writes to one collection serialise in the database: processors (64 drafts at once in text
    # expansion) queue here, so a writer's own save waits behind a few of theirs, not all of them.
    async with request.app[PROCESSOR_LANE].turn():
        entry, created = await request.app[BLOBS].register_derived(body)
    return json_response(entry, status=201 if created else 200)


@routes.post("/api/v1/blob-index/awaiting")
async def await_input(request: web.Request) -> web.Response:
    """What a processor made from these drafts will use a new input: stale (the input "is new") until made again."""
    body = await request.app[BODIES].read(request, AwaitInput)
    async with request.app[PROCESSOR_LANE].turn():
        await request.app[BLOBS].await_input(body)
    return web.Response(status=204)


@routes.get("/api/v1/blob-index")
async def query_index(request: web.Request) -> web.Response:
    filters: dict[str, Any] = {}
    for name in ("book_id", "parent_id", "processor_id", "schema_id"):
        if request.query.get(name):
            filters[name] = request.query[name]
    if request.query.get("id"):
        filters["_id"] = id_param(request, "id")  # one entry, whoever holds the blob
    if request.query.get("input_id"):
        # What was made with this blob as an input besides its parent (the edges `inputs` records).
        filters["inputs.blob_id"] = id_param(request, "input_id")
    entries = await request.app[BLOBS].query_index(user_param(request), filters, limit=limit_param(request, MAX_LIMIT))
    return json_response({"entries": entries})


@routes.post("/api/v1/failures")
async def record_failure(request: web.Request) -> web.Response:
    """A processor gave up on a message: keep it for the owner's views and announce it."""
    body = await request.app[BODIES].read(request, RecordFailure)
    async with request.app[PROCESSOR_LANE].turn():
        failure, created = await request.app[FAILURES].record(body)
    return json_response(failure, status=201 if created else 200)


# Books and state ---------------------------------------------------------------------------------


@routes.post("/api/v1/users/{uid}/books")
async def create_book(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, CreateBook)
    book = await request.app[BOOKS].create(CreateUserBook(user_id=user_param(request), **msgspec.structs.asdict(body)))
    return json_response(book, status=201)


@routes.get("/api/v1/users/{uid}/books")
async def list_books(request: web.Request) -> web.Response:
    return json_response({"books": await request.app[BOOKS].books_of(user_param(request))})


@routes.get("/api/v1/users/{uid}/books/{book_id}")
async def get_book(request: web.Request) -> web.Response:
    include = request.query.get("include")
    if include not in (None, "drafts"):
        raise Unprocessable("include may only be 'drafts'", errors=[FieldError(pointer="/include", detail="unknown")])
    books = await request.app[BOOKS].books_of(
        user_param(request), book_id=request.match_info["book_id"], with_drafts=include == "drafts"
    )
    return json_response(books[0])


@routes.get("/api/v1/users/{uid}/inputs")
async def inputs_of_book(request: web.Request) -> web.Response:
    """What a processor reads for a blob of `book_id` besides its parent: the user's blobs of
    `schema_id` filed under that book or under none (every book); no `book_id`: those under none."""
    schema_id = request.query.get("schema_id", "")
    if not is_schema_id(schema_id):
        raise Unprocessable(
            "schema_id is not a valid schema id", errors=[FieldError(pointer="/schema_id", detail=SCHEMA_ID_RULE)]
        )
    book_id = id_param(request, "book_id") if "book_id" in request.query else None
    blobs = await request.app[BOOKS].inputs(user_param(request), schema_id, book_id)
    return json_response({"blobs": blobs})


@routes.patch("/api/v1/users/{uid}/books/{book_id}")
async def update_book(request: web.Request) -> web.Response:
    """Title, description and metadata; the fields given change, `null` clears one."""
    body = await request.app[BODIES].read(request, UpdateBook)
    return json_response(await request.app[BOOKS].update(user_param(request), request.match_info["book_id"], body))


@routes.post("/api/v1/users/{uid}/books/{book_id}/compile")
async def compile_book(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, CompileRequest) if request.can_read_body else CompileRequest()
    accepted = await request.app[BOOKS].request_compile(user_param(request), request.match_info["book_id"], body)
    return json_response(accepted, status=202)


@routes.get("/api/v1/users/{uid}/state")
async def user_state(request: web.Request) -> web.Response:
    """Totals, blobs by processor, books, and the user's items in flight and failed."""
    return json_response(await request.app[BOOKS].state(user_param(request), await request.app[PROCESSORS].all()))


# Registries --------------------------------------------------------------------------------------


@routes.get("/api/v1/schemas")
async def list_schemas(request: web.Request) -> web.Response:
    return json_response({"schemas": await request.app[SCHEMAS].all()})


@routes.post("/api/v1/schemas")
async def register_schema(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, RegisterSchema)
    document, created = await request.app[SCHEMAS].register(body)
    return json_response(document, status=201 if created else 200)


@routes.get("/api/v1/schemas/{schema_id}")
async def get_schema(request: web.Request) -> web.Response:
    return json_response(await request.app[SCHEMAS].get(request.match_info["schema_id"]))


@routes.post("/api/v1/schemas/{schema_id}/validate")
async def validate(request: web.Request) -> web.Response:
    instance: Any = await request.app[BODIES].read(request, Any)
    errors = await request.app[SCHEMAS].check(request.match_info["schema_id"], instance)
    return json_response(ValidationResult(valid=not errors, errors=[msgspec.to_builtins(e) for e in errors]))


@routes.get("/api/v1/processors")
async def list_processors(request: web.Request) -> web.Response:
    return json_response({"processors": await request.app[PROCESSORS].all()})


@routes.post("/api/v1/processors")
async def register_processor(request: web.Request) -> web.Response:
    body = await request.app[BODIES].read(request, ProcessorRegistration)
    registration, created = await request.app[PROCESSORS].register(body)
    return json_response(registration, status=201 if created else 200)


@routes.post("/api/v1/processors/{processor_id}/deactivate")
async def deactivate_processor(request: web.Request) -> web.Response:
    """Retire a processor (an operator's act): its consumers stop, views mark its items `retired`."""
    return json_response(await request.app[PROCESSORS].set_active(request.match_info["processor_id"], False))


@routes.post("/api/v1/processors/{processor_id}/activate")
async def activate_processor(request: web.Request) -> web.Response:
    """Bring a retired processor back."""
    return json_response(await request.app[PROCESSORS].set_active(request.match_info["processor_id"], True))


@routes.get("/api/v1/processors/{processor_id}")
async def get_processor(request: web.Request) -> web.Response:
    return json_response(await request.app[PROCESSORS].get(request.match_info["processor_id"]))
