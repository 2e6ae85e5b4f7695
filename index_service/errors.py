"""The index service's error vocabulary."""

from __future__ import annotations

from servicekit.errors import Conflict, NotFound, PreconditionFailed, Unavailable, Unprocessable


class BlobNotFound(NotFound):
    code, title = "blob-not-found", "No such blob"


class BookNotFound(NotFound):
    code, title = "book-not-found", "No such book"


class SchemaNotFound(NotFound):
    code, title = "schema-not-found", "No such schema"


class ProcessorNotFound(NotFound):
    code, title = "processor-not-found", "No such processor"


class UnknownSchema(Unprocessable):
    code, title = "unknown-schema", "The blob names a schema the registry does not have"


class InvalidBlob(Unprocessable):
    code, title = "schema-violation", "The blob's data does not match its schema"


class InvalidSchema(Unprocessable):
    code, title = "invalid-schema", "The document is not a usable JSON Schema"


class IncompatibleSchema(Conflict):
    code, title = "incompatible-schema", "The change would break readers of this schema"


class BookEmpty(Unprocessable):
    code, title = "book-empty", "The book has no chapters"


class BookExists(Conflict):
    code, title = "book-exists", "A book with this id exists"


class ChapterTaken(Conflict):
    code, title = "chapter-taken", "That chapter of the book already has a draft"


class VersionMismatch(PreconditionFailed):
    code, title = "version-mismatch", "The blob has changed since the version given"


class ProcessorCycle(Conflict):
    code, title = "processor-cycle", "The registration would make processors feed each other in a cycle"


class DerivedConflict(Conflict):
    code, title = "derived-conflict", "That id is registered to another processor or user"


class StoreUnavailable(Unavailable):
    code, title = "store-unavailable", "The index database is unavailable"
