"""The WebSocket as AsyncAPI 3, made from the message Structs in `contracts.live`."""

from __future__ import annotations

from typing import Any

import msgspec

from contracts import live

REF = "#/components/schemas/{name}"


def socket_document() -> dict[str, Any]:
    """One channel (`/ws`), what the server sends on it and what the client may send."""
    _, schemas = msgspec.json.schema_components((*live.SENT, *live.RECEIVED), ref_template=REF)
    messages = {
        kind.__name__: {
            "name": kind.__name__,
            "title": kind.__name__,
            "summary": (kind.__doc__ or kind.__name__).split("\n")[0],
            "contentType": "application/json",
            "payload": {"$ref": REF.format(name=kind.__name__)},
        }
        for kind in (*live.SENT, *live.RECEIVED)
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ReYNa Studio live updates",
            "version": "1",
            "description": "Each user's own events and the progress of what is being made for them. Authenticate the "
            "handshake like a REST call (`Authorization: Bearer`) or, from a browser, by offering the subprotocols "
            "`studio` and `bearer.<token>` (the answer selects `studio`); `?token=` is read for older clients. "
            "Resume with `?last_event_id=` and `?last_progress_id=`. A socket lives no longer than its token: "
            "`token.expiring` comes a minute ahead, an `authenticate` action with a fresh token of the same user "
            "keeps it open, else it is closed with 4001; a refused token closes it with 4003; a client that does "
            "not keep up is closed with 4008.",
        },
        "servers": {"gateway": {"host": "localhost:8010", "protocol": "ws", "pathname": "/ws"}},
        "channels": {
            "live": {
                "address": "/ws",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": {
            "receiveUpdates": {
                "action": "receive",
                "channel": {"$ref": "#/channels/live"},
                "messages": [{"$ref": f"#/channels/live/messages/{k.__name__}"} for k in live.SENT],
            },
            "sendActions": {
                "action": "send",
                "channel": {"$ref": "#/channels/live"},
                "messages": [{"$ref": f"#/channels/live/messages/{k.__name__}"} for k in live.RECEIVED],
            },
        },
        "components": {"messages": messages, "schemas": schemas},
    }
