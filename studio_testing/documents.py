"""Checking what the gateway answers and sends against its API documents."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

MESSAGE_OF = {
    "ready": "Ready",
    "resync": "Resync",
    "blob.created": "BlobChangedMessage",
    "blob.updated": "BlobChangedMessage",
    "blob.deleted": "BlobChangedMessage",
    "blob.derived": "BlobDerivedMessage",
    "book.compiled": "BookCompiledMessage",
    "processor.failed": "ProcessorFailedMessage",
    "blob.progress": "ProgressMessage",
    "blob.create.result": "CreateBlobResult",
    "error": "ErrorMessage",
    "book.updated": "BookUpdatedMessage",
    "token.expiring": "TokenExpiring",
    "authenticated": "Authenticated",
}


def checker(document: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator of the component schema `name`, its references resolved in `document`."""
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": document["components"]})
