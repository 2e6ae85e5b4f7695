"""The cluster compose file cannot run here (no container engine); check what can be checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_file_parses_and_references_resolve() -> None:
    compose = _compose()
    services = compose["services"]
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (COMPOSE.parent / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"


def test_real_backing_servers_and_a_three_node_nats_cluster() -> None:
    services = _compose()["services"]
    assert services["mongo"]["image"].startswith("mongo:")
    assert services["postgres"]["image"].startswith("postgres:")
    nats = [name for name, s in services.items() if str(s.get("image", "")).startswith("nats:")]
    assert len(nats) == 3
    for name in nats:
        command = " ".join(services[name]["command"])
        assert "--cluster_name studio" in command and "-c /etc/nats/jetstream.conf" in command
    assert "sync_interval: always" in (COMPOSE.parent / "deploy" / "nats.conf").read_text()


def test_every_service_is_built_from_the_one_dockerfile_with_its_own_settings() -> None:
    services = _compose()["services"]
    built = {name: s for name, s in services.items() if "build" in s}
    assert set(built) >= {"index", "gateway", "text-expansion", "book-compiler", "pitch-builder"}
    for name, service in built.items():
        assert service["build"]["dockerfile"] == "Dockerfile"
        module = service["command"][-1]
        assert (ROOT / module.replace(".", "/") / "__main__.py").exists(), (
            f"{name} runs {module}, which has no __main__"
        )
        env = service["environment"]
        assert env["STUDIO_SERVICE_TOKEN"].startswith("${")
        assert "STUDIO_NATS_URL" in env
    assert built["index"]["environment"]["STUDIO_INDEX_MONGO_URL"].startswith("mongodb://mongo:")
    # Each PostgreSQL processor logs in as its own role to its own database.
    assert "book_compiler:" in built["book-compiler"]["environment"]["STUDIO_BOOK_COMPILER_PG_URL"]
    assert built["pitch-builder"]["environment"]["STUDIO_PITCH_BUILDER_PG_URL"].endswith("/pitch_builder")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install .*-c constraints.txt \.", dockerfile), "the image installs no extras"
