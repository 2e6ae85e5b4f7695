"""The schema registry and the processor registry."""

from __future__ import annotations

from typing import Any

import msgspec
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from contracts import subjects
from contracts.compat import incompatibilities
from contracts.events import ProcessorActivated, ProcessorDeactivated, ProcessorRegistered
from contracts.models import ProcessorRegistration, RegisterSchema, SchemaDocument
from contracts.problems import FieldError
from contracts.validation import InvalidSchema as SchemaDocumentInvalid
from contracts.validation import ValidatorCache, builtin_schemas, check_schema

from .errors import (
    IncompatibleSchema,
    InvalidBlob,
    InvalidSchema,
    ProcessorCycle,
    ProcessorNotFound,
    SchemaNotFound,
    UnknownSchema,
)
from .ids import new_id, now
from .outbox import PENDING_FLAG, OutboxRelay, outbox_entry, push_events


def _from_doc(doc: dict[str, Any]) -> SchemaDocument:
    return SchemaDocument(
        id=doc["_id"],
        schema=doc["schema"],
        revision=doc["revision"],
        description=doc.get("description"),
        created_at=doc.get("created_at"),
    )


class SchemaRegistry:
    """Schemas by id, each with a revision count; validators compiled once and cached.

    A cache miss reads MongoDB, so a schema registered through another instance is found. A
    revision registered elsewhere reaches this cache at the next miss or restart; revisions are
    compatible by construction, so a reader a revision behind is still right about old fields.
    """

    def __init__(self, db: AsyncDatabase[dict[str, Any]], cache: ValidatorCache) -> None:
        self.collection = db["schemas"]
        self.cache = cache

    async def load_builtins(self) -> None:
        """Register the shipped schemas; a shipped revision replaces a stored one only if compatible."""
        for schema_id, schema in builtin_schemas().items():
            stored = await self.collection.find_one({"_id": schema_id})
            if stored is None:
                await self.collection.update_one(
                    {"_id": schema_id},
                    {"$setOnInsert": {"schema": schema, "revision": 1, "created_at": now(), "builtin": True}},
                    upsert=True,
                )
            elif stored["schema"] != schema and not incompatibilities(stored["schema"], schema):
                await self.collection.update_one(
                    {"_id": schema_id, "revision": stored["revision"]},
                    {"$set": {"schema": schema}, "$inc": {"revision": 1}},
                )
        async for doc in self.collection.find({}):
            self.cache.put(doc["_id"], doc["schema"], doc["revision"])

    async def get(self, schema_id: str) -> SchemaDocument:
        doc = await self.collection.find_one({"_id": schema_id})
        if doc is None:
            raise SchemaNotFound(f"schema {schema_id} is not registered")
        return _from_doc(doc)

    async def all(self) -> list[SchemaDocument]:
        return [_from_doc(d) for d in await self.collection.find({}).sort("_id").to_list(None)]

    async def _ensure_cached(self, schema_id: str) -> bool:
        if schema_id in self.cache:
            return True
        doc = await self.collection.find_one({"_id": schema_id})
        if doc is None:
            return False
        self.cache.put(schema_id, doc["schema"], doc["revision"])
        return True

    async def revision(self, schema_id: str) -> int:
        await self._ensure_cached(schema_id)
        return self.cache.revision(schema_id) or 1

    async def check(self, schema_id: str, data: Any, *, prefix: str = "") -> list[FieldError]:
        if not await self._ensure_cached(schema_id):
            raise SchemaNotFound(f"schema {schema_id} is not registered")
        return self.cache.validate(schema_id, data, prefix=prefix)

    async def validate_blob(self, schema_id: str, data: Any) -> None:
        """Raise unless `data` is valid under `schema_id`; pointers are relative to the request body."""
        if not await self._ensure_cached(schema_id):
            raise UnknownSchema(
                f"schema {schema_id} is not registered",
                errors=[FieldError(pointer="/schema_id", detail=f"unknown schema {schema_id}")],
            )
        errors = self.cache.validate(schema_id, data, prefix="/data")
        if errors:
            raise InvalidBlob(f"{len(errors)} field(s) do not match {schema_id}", errors=errors)

    async def register(self, request: RegisterSchema) -> tuple[SchemaDocument, bool]:
        """A new schema, or a compatible revision of an existing one; returns (document, created)."""
        try:
            check_schema(request.schema)
        except SchemaDocumentInvalid as exc:
            raise InvalidSchema(str(exc), errors=[FieldError(pointer="/schema", detail=str(exc))]) from None
        declared = request.schema.get("$id")
        if declared is not None and declared != request.id:
            raise InvalidSchema(
                f"the schema's $id {declared!r} differs from id {request.id!r}",
                errors=[FieldError(pointer="/schema/$id", detail="must equal the registered id")],
            )
        stored = await self.collection.find_one({"_id": request.id})
        if stored is None:
            doc = {
                "_id": request.id,
                "schema": request.schema,
                "revision": 1,
                "description": request.description,
                "created_at": now(),
            }
            await self.collection.update_one({"_id": request.id}, {"$setOnInsert": doc}, upsert=True)
            stored_now = await self.collection.find_one({"_id": request.id})
            assert stored_now is not None
            if stored_now["schema"] == request.schema:
                self.cache.put(request.id, request.schema, stored_now["revision"])
                return _from_doc(stored_now), stored_now["revision"] == 1
            stored = stored_now  # lost a race to another registration: treat ours as a revision
        if stored["schema"] == request.schema:
            return _from_doc(stored), False
        reasons = incompatibilities(stored["schema"], request.schema)
        if reasons:
            raise IncompatibleSchema(
                f"{request.id} revision {stored['revision']} has readers this change would break; "
                "publish it under a new major version instead",
                errors=[FieldError(pointer="/schema" + r.split(":", 1)[0].rstrip("/"), detail=r) for r in reasons],
            )
        updated = await self.collection.find_one_and_update(
            {"_id": request.id, "revision": stored["revision"]},
            {"$set": {"schema": request.schema, "description": request.description}, "$inc": {"revision": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            raise IncompatibleSchema(f"{request.id} changed while registering; try again")
        self.cache.put(request.id, request.schema, updated["revision"])
        return _from_doc(updated), False


def cycle_through(new: ProcessorRegistration, others: list[ProcessorRegistration]) -> list[ProcessorRegistration]:
    """The chain of processors, starting with `new`, by which `new`'s output comes back to one of
    its inputs; empty when there is none."""
    consumers: dict[str, list[ProcessorRegistration]] = {}
    for processor in [new, *others]:
        # What it reads besides its inputs feeds it as much as its inputs do.
        for schema_id in sorted({*processor.input_schema_ids, *processor.reads}):
            consumers.setdefault(schema_id, []).append(processor)
    wanted = {*new.input_schema_ids, *new.reads}
    # Depth-first from new's output; each path is the processors that made each schema on it.
    stack: list[tuple[str, list[ProcessorRegistration]]] = [(new.output_schema_id, [new])]
    seen: set[str] = set()
    while stack:
        schema_id, path = stack.pop()
        if schema_id in wanted:
            return path
        if schema_id in seen:
            continue
        seen.add(schema_id)
        for processor in consumers.get(schema_id, []):
            if processor.id != new.id:
                stack.append((processor.output_schema_id, [*path, processor]))
    return []


class ProcessorRegistry:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], relay: OutboxRelay) -> None:
        self.collection = db["processors"]
        self.relay = relay

    async def register(self, registration: ProcessorRegistration) -> tuple[ProcessorRegistration, bool]:
        """Insert or replace a processor's entry (re-registration at every start is normal) and
        announce it, so that whoever routes by the registry reads it again. A registration whose
        inputs would be fed, down some chain, by its own output is refused (ProcessorCycle)."""
        others = [p for p in await self.all() if p.active and p.id != registration.id]
        loop = cycle_through(registration, others)
        if loop:
            path = " -> ".join(
                f"{p.id} ({', '.join([*p.input_schema_ids, *p.reads])} => {p.output_schema_id})" for p in loop
            )
            raise ProcessorCycle(
                f"{registration.id} would consume what it produces, through: {path}",
                errors=[
                    FieldError(
                        pointer="/input_schema_ids",
                        detail=f"cycle: {' -> '.join(p.id for p in loop)} -> {registration.id}",
                    )
                ],
            )
        fields = msgspec.to_builtins(registration)
        fields.pop("id")
        fields.pop("created_at", None)
        # Whether it is active is the operator's: set by the first registration, then changed only
        # by activate/deactivate, so a retired processor that restarts stays retired.
        active = fields.pop("active")
        event = ProcessorRegistered(
            event_id=new_id(), processor_id=registration.id, base_url=registration.base_url, occurred_at=now()
        )
        entry = outbox_entry(subjects.processor_registered(registration.id), event)
        result = await self.collection.update_one(
            {"_id": registration.id},
            {
                "$set": {**fields, PENDING_FLAG: True},
                "$setOnInsert": {"created_at": now(), "active": active},
                **push_events(entry),
            },
            upsert=True,
        )
        self.relay.notify(registration.id, [entry])
        return await self.get(registration.id), result.upserted_id is not None

    async def set_active(self, processor_id: str, active: bool, *, reason: str | None = None) -> ProcessorRegistration:
        """Retire a processor or bring it back, announcing the change (nothing to announce if it
        was already so). Bringing one back is refused if, meanwhile, it would close a cycle."""
        current = await self.get(processor_id)
        if current.active == active:
            return current
        if active:
            others = [p for p in await self.all() if p.active and p.id != processor_id]
            loop = cycle_through(current, others)
            if loop:
                raise ProcessorCycle(
                    f"{processor_id} would consume what it produces, through: {' -> '.join(p.id for p in loop)}"
                )
        moment = now()
        event: ProcessorActivated | ProcessorDeactivated = (
            ProcessorActivated(event_id=new_id(), processor_id=processor_id, occurred_at=moment, reason=reason)
            if active
            else ProcessorDeactivated(event_id=new_id(), processor_id=processor_id, occurred_at=moment, reason=reason)
        )
        subject = subjects.processor_activated(processor_id) if active else subjects.processor_deactivated(processor_id)
        entry = outbox_entry(subject, event)
        result = await self.collection.update_one(
            {"_id": processor_id, "active": not active},
            {"$set": {"active": active, PENDING_FLAG: True}, **push_events(entry)},
        )
        if result.modified_count:
            self.relay.notify(processor_id, [entry])
        return await self.get(processor_id)

    async def get(self, processor_id: str) -> ProcessorRegistration:
        doc = await self.collection.find_one({"_id": processor_id})
        if doc is None:
            raise ProcessorNotFound(f"processor {processor_id} is not registered")
        return self._from_doc(doc)

    async def all(self) -> list[ProcessorRegistration]:
        return [self._from_doc(d) for d in await self.collection.find({}).sort("_id").to_list(None)]

    @staticmethod
    def _from_doc(doc: dict[str, Any]) -> ProcessorRegistration:
        fields = {k: v for k, v in doc.items() if k not in ("_id", "outbox", PENDING_FLAG)}
        return msgspec.convert({"id": doc["_id"], **fields}, ProcessorRegistration)
