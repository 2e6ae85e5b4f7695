"""What the one-machine supervisor runs: one of each (`single`) or the production shape (`cluster`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topology:
    """How many of each run: NATS nodes, gateways, instances per processor, copies of each stream."""

    name: str
    nats_nodes: int
    gateways: int
    replicas: int
    stream_replicas: int


TOPOLOGIES = {
    "single": Topology("single", nats_nodes=1, gateways=1, replicas=1, stream_replicas=1),
    # Three NATS nodes keep a JetStream quorum with one of them down; two of everything else
    # keeps a service answering while its twin restarts.
    "cluster": Topology("cluster", nats_nodes=3, gateways=2, replicas=2, stream_replicas=3),
}


def instance_name(base: str, number: int) -> str:
    """The first instance keeps the plain name (`gateway`); the others are `gateway-2`, …"""
    return base if number == 1 else f"{base}-{number}"


def port_name(key: str, number: int) -> str:
    """The ports table's key of instance `number`: `gateway`, `gateway_2`, …"""
    return key if number == 1 else f"{key}_{number}"
