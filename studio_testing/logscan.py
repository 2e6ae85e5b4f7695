"""No log of a test run holds a token or a secret: every stack's logs are read when the run ends."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# A signed JWT (header and claims are base64url JSON objects, so each starts with `eyJ`): the
# stack's own tokens, an identity provider's, any a test made up.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
SHORTEST_SECRET = 8  # shorter values (a test's made-up "t") would match by chance


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def secrets_of(kept: Path) -> set[str]:
    """The secrets of every stack whose logs were kept under `kept` (one `secrets.json` per stack)."""
    found: set[str] = set()
    for path in kept.rglob("secrets.json"):
        found.update(v for v in json.loads(path.read_text()) if isinstance(v, str) and len(v) >= SHORTEST_SECRET)
    return found


def scan(logs: Iterable[Path], secrets: Iterable[str]) -> list[Finding]:
    """Each line of `logs` holding a JWT or one of `secrets` (named by position, never quoted).

    Each file is searched whole (one pass of the JWT pattern, one `find` loop per secret): a run
    leaves megabytes of logs, and a search per line and secret took half a minute."""
    wanted = sorted(set(secrets))
    findings: list[Finding] = []

    def line_of(text: str, at: int) -> int:
        return text.count("\n", 0, at) + 1

    for path in logs:
        text = path.read_text(encoding="utf-8", errors="replace")
        findings.extend(Finding(path, line_of(text, m.start()), "a JWT") for m in JWT.finditer(text))
        for i, secret in enumerate(wanted):
            at = text.find(secret)
            while at >= 0:
                findings.append(Finding(path, line_of(text, at), f"secret #{i}"))
                at = text.find(secret, at + len(secret))
    return findings
