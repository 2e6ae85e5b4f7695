"""The access log never prints a credential that came in a URL."""

from __future__ import annotations

import pytest

from servicekit.auth import issue_token
from servicekit.runner import redacted_target

TOKEN = issue_token("s" * 32, "alice")


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        (f"/ws?token={TOKEN}", "/ws?token=[redacted]"),
        (
            f"/ws?last_event_id=4&token={TOKEN}&last_progress_id=2",
            "/ws?last_event_id=4&token=[redacted]&last_progress_id=2",
        ),
        ("/ws?token=not-even-a-jwt", "/ws?token=[redacted]"),
        (
            "/x?access_token=a&api_key=b&Password=c&%74oken=d",
            "/x?access_token=[redacted]&api_key=[redacted]&Password=[redacted]&%74oken=[redacted]",
        ),
        (f"/x?q={TOKEN}", "/x?q=[redacted]"),
        (f"/api/v1/blobs/{TOKEN}", "/api/v1/blobs/[redacted]"),
        ("/api/v1/users/alice/blobs?book_id=b&limit=5", "/api/v1/users/alice/blobs?book_id=b&limit=5"),
        ("/healthz", "/healthz"),
    ],
)
def test_credentials_in_a_target_are_redacted(target: str, logged: str) -> None:
    assert redacted_target(target) == logged


def test_every_log_line_loses_tokens_passwords_and_known_secrets() -> None:
    from dataclasses import dataclass

    from servicekit.runner import redacted_text, secrets_of

    @dataclass(frozen=True)
    class Inner:
        api_key: str = "sk-provider-key-123"

    @dataclass(frozen=True)
    class Settings:
        service_token: str = "t" * 40
        port: int = 8010
        inner: Inner = Inner()

    assert secrets_of(Settings()) == ["t" * 40, "sk-provider-key-123"]
    line = (
        f"InvalidURLError: b'GET /ws?token={TOKEN}\\x01 HTTP/1.1' at postgresql://book_compiler:hunter2pass@db:5432/books"
        f" with Bearer {'t' * 40} and STUDIO_OPENAI_API_KEY=sk-provider-key-123 password=swordfish"
    )
    cleaned = redacted_text(line, secrets_of(Settings()))
    for secret in (TOKEN, "hunter2pass", "t" * 40, "sk-provider-key-123", "swordfish"):
        assert secret not in cleaned
    assert "postgresql://book_compiler:[redacted]@db:5432/books" in cleaned
