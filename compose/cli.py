"""`studio`: run the one-machine stack, print tokens, load the demo book."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys

import aiohttp
import msgspec
import nats

from contracts.ids import is_id
from processors.runtime.deadletter import dead_letters, replay
from processors.runtime.index_client import IndexClient
from processors.runtime.rederive import rederive
from servicekit.auth import issue_token
from servicekit.client import ServiceClient
from servicekit.service_settings import TokenLifetime
from servicekit.settings import ConfigError, Env, data_dir, load
from servicekit.urls import upstream_url, url_path

from . import secrets
from .demo import DEMO_BOOK, DEMO_USER, load_demo
from .settings import StackSettings
from .supervisor import Supervisor, run, stack_file
from .topology import TOPOLOGIES


def _token_for(user_id: str, ttl: int) -> str:
    found = secrets.read(data_dir(Env()))
    if not found.get("jwt_secret"):
        raise SystemExit("studio: no JWT secret: set STUDIO_JWT_SECRET or run `make up` once to generate one")
    return issue_token(found["jwt_secret"], user_id, ttl_seconds=ttl)


async def _greet(supervisor: Supervisor) -> None:
    described = supervisor.describe()
    gateway = described["gateway"]
    others = "".join(f"\n  gateway:   {url}   (same API, same users)" for url in described["gateways"][1:])
    head = (
        f"\nReYNa Studio is up.\n"
        f"  topology:  {described['topology']} (NATS: {described['nats_url']})\n"
        f"  gateway:   {gateway}{others}\n"
        f"  stack:     {stack_file(supervisor.data_dir)}\n"
        f"  logs:      {supervisor.data_dir / 'logs'}\n"
    )
    if not supervisor.settings.demo:
        # Nobody is signed in by default: no token is printed (this output is often kept as a log).
        print(f"{head}  tokens:    studio token USER_ID\n\nCtrl-C stops everything.", flush=True)
        return
    token = issue_token(supervisor.secrets["jwt_secret"], DEMO_USER)
    try:
        result = await load_demo(gateway, token)
        print(f"demo book {DEMO_BOOK}: {'loaded' if result['created'] else 'already there'}")
    except Exception as exc:  # the stack is up; a failed demo load is worth a line, not a stop
        print(f"demo book not loaded: {exc}", file=sys.stderr)
    print(
        f"{head}"
        f"  user:      {DEMO_USER}\n"
        f"  token:     {token}\n"
        f"  studio:    {gateway}/#token={token}   (open this link to sign the demo writer in)\n\n"
        f"Try:\n  curl -s -H 'Authorization: Bearer {token}' {gateway}/api/v1/users/{DEMO_USER}/books\n"
        f"  curl -s -H 'Authorization: Bearer {token}' {gateway}/api/v1/users/{DEMO_USER}/books/{DEMO_BOOK}\n"
        f"Live events and expansions as they stream (blob.progress): a WebSocket to\n"
        f"  {gateway.replace('http', 'ws', 1)}/ws   with the header 'Authorization: Bearer {token}'\n\n"
        f"Ctrl-C stops everything.",
        flush=True,
    )


def _nats_url() -> str:
    """STUDIO_NATS_URL, else the running stack's NATS."""
    if os.environ.get("STUDIO_NATS_URL"):
        return os.environ["STUDIO_NATS_URL"]
    path = stack_file(data_dir(Env()))
    if not path.exists():
        raise SystemExit("studio: set STUDIO_NATS_URL or start the stack (no stack.json found)")
    info = json.loads(path.read_text())
    return str(info.get("nats_url") or info["nats"]["url"])


async def _dead_letters(action: str, processor: str | None, seqs: list[int] | None) -> int:
    nc = await nats.connect(_nats_url())
    try:
        js = nc.jetstream()
        letters = [d for d in await dead_letters(js, processor) if not seqs or d.dlq_seq in seqs]
        if action == "list":
            for letter in letters:
                print(json.dumps(msgspec.to_builtins(letter)))
            print(f"{len(letters)} dead letter(s)", file=sys.stderr)
        else:
            print(f"replayed {await replay(js, letters)} of {len(letters)} dead letter(s)")
        return 0
    finally:
        await nc.drain()


def _index() -> tuple[str, str]:
    """The index service's URL (STUDIO_INDEX_URL, else the running stack's) and the service token."""
    token = secrets.read(data_dir(Env())).get("service_token") or os.environ.get("STUDIO_SERVICE_TOKEN", "")
    if not token:
        raise SystemExit("studio: no service token: set STUDIO_SERVICE_TOKEN or run `make up` once to generate one")
    if os.environ.get("STUDIO_INDEX_URL"):
        return os.environ["STUDIO_INDEX_URL"], token
    path = stack_file(data_dir(Env()))
    if not path.exists():
        raise SystemExit("studio: set STUDIO_INDEX_URL or start the stack (no stack.json found)")
    return str(json.loads(path.read_text())["services"]["index"]["url"]), token


async def _rederive(processor_id: str | None, user_id: str | None) -> int:
    if not processor_id or not is_id(processor_id) or not user_id or not is_id(user_id):
        print("studio: rederive needs a processor id and --user USER_ID", file=sys.stderr)
        return 2
    base, token = _index()
    nc = await nats.connect(_nats_url())
    try:
        async with aiohttp.ClientSession() as session:
            announced = await rederive(
                IndexClient(ServiceClient(session, name="index", base_url=base, token=token, timeout=10)),
                nc.jetstream(),
                processor_id,
                user_id,
            )
    except LookupError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return 1
    finally:
        await nc.drain()
    print(f"{processor_id}: {announced} item(s) of {user_id} announced again; it re-derives them in the background")
    return 0


async def _processors(action: str, processor_id: str | None) -> int:
    """List the registry, or retire a processor or bring it back, through the index service."""
    base, token = _index()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        if action == "list":
            async with session.get(upstream_url(base, url_path("api", "v1", "processors"))) as response:
                for p in (await response.json())["processors"]:
                    state = "active" if p["active"] else "retired"
                    print(
                        f"{p['id']:<24} {state:<8} {', '.join(p['input_schema_ids'])} "
                        f"-> {p['output_schema_id']}  {p['base_url']}"
                    )
            return 0
        if not processor_id or not is_id(processor_id):
            print(f"studio: {action} needs a processor id", file=sys.stderr)
            return 2
        async with session.post(
            upstream_url(base, url_path("api", "v1", "processors", processor_id, action))
        ) as response:
            body = await response.json()
            if response.status != 200:
                print(f"studio: {body.get('detail') or body.get('title')}", file=sys.stderr)
                return 1
        print(f"{processor_id}: {'active' if body['active'] else 'retired'}")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="studio", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the whole federation on embedded servers until Ctrl-C")
    up.add_argument("--no-demo", action="store_true", help="do not load the demo book")
    up.add_argument(
        "--topology",
        choices=tuple(TOPOLOGIES),
        help=(
            "single: one of each (default, or STUDIO_TOPOLOGY); cluster: 3 NATS nodes, 2 gateways, 2 of each processor"
        ),
    )
    token = commands.add_parser("token", help="print a JWT for USER_ID signed with the configured secret")
    token.add_argument("user_id")
    token.add_argument("--ttl", type=int, default=7 * 24 * 3600, help="lifetime in seconds (default: 7 days)")
    commands.add_parser("stack", help="print the running stack's stack.json")
    dlq = commands.add_parser("dlq", help="list or replay the messages processors gave up on")
    dlq.add_argument("action", choices=("list", "replay"))
    dlq.add_argument("--processor", help="only this processor's dead letters")
    dlq.add_argument("--seq", type=int, action="append", help="only this dead letter (its dlq_seq); repeatable")
    processors = commands.add_parser(
        "processors", help="list the processor registry, or deactivate/activate a processor"
    )
    processors.add_argument("action", choices=("list", "deactivate", "activate", "rederive"))
    processors.add_argument("processor_id", nargs="?")
    processors.add_argument("--user", help="rederive: whose items")
    args = parser.parse_args(argv)

    if args.command == "processors" and args.action == "rederive":
        return asyncio.run(_rederive(args.processor_id, args.user))
    if args.command == "processors":
        return asyncio.run(_processors(args.action, args.processor_id))

    if args.command == "dlq":
        return asyncio.run(_dead_letters(args.action, args.processor, args.seq))

    if args.command == "token":
        try:
            longest = load(TokenLifetime).jwt_max_lifetime_seconds
        except ConfigError as exc:
            print(f"studio: configuration error: {exc}", file=sys.stderr)
            return 2
        if not 0 < args.ttl <= longest:
            print(
                f"studio: --ttl must be 1..{longest} seconds (STUDIO_JWT_MAX_LIFETIME_SECONDS): "
                "the gateway refuses longer-lived tokens",
                file=sys.stderr,
            )
            return 2
        print(_token_for(args.user_id, args.ttl))
        return 0
    if args.command == "stack":
        path = stack_file(data_dir(Env()))
        if not path.exists():
            print(f"studio: no stack is running ({path} is absent)", file=sys.stderr)
            return 1
        print(json.dumps(json.loads(path.read_text()), indent=2))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    try:
        settings = StackSettings.from_env()
    except ConfigError as exc:
        print(f"studio: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.no_demo:
        settings = dataclasses.replace(settings, demo=False)
    if args.topology:
        settings = dataclasses.replace(settings, topology=TOPOLOGIES[args.topology])
    return asyncio.run(run(settings, on_ready=_greet))


if __name__ == "__main__":
    sys.exit(main())
