"""Secrets of the one-machine stack: from the environment, else generated once into the data dir."""

from __future__ import annotations

import json
import os
import secrets as random
from pathlib import Path

SECRETS_FILE = "secrets.json"
NAMES = (
    "jwt_secret",
    "service_token",
    "postgres_password",
    "book_compiler_db_password",
    "pitch_builder_db_password",
    "summary_db_password",
)


def load_or_create(
    data_dir: Path, *, jwt_secret: str | None = None, service_token: str | None = None
) -> dict[str, str]:
    """Every secret the stack needs; the file is written once with mode 600 and reused after."""
    path = data_dir / SECRETS_FILE
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {name: stored.get(name) or random.token_urlsafe(32) for name in NAMES}
    if wanted != stored:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(wanted, handle, indent=2)
        os.replace(tmp, path)
    # Variables set by the operator win over the file, which only fills what they leave unset.
    if jwt_secret:
        wanted["jwt_secret"] = jwt_secret
    if service_token:
        wanted["service_token"] = service_token
    return wanted


def read(data_dir: Path) -> dict[str, str]:
    """The secrets a running or earlier stack generated, with the environment's taking precedence."""
    path = data_dir / SECRETS_FILE
    found: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for name, variable in (("jwt_secret", "STUDIO_JWT_SECRET"), ("service_token", "STUDIO_SERVICE_TOKEN")):
        if os.environ.get(variable):
            found[name] = os.environ[variable]
    return found
