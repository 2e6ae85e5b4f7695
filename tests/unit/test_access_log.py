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
        (f"/ws?last_event_id=4&token={TOKEN}&last_progress_id=2", "/ws?last_event_id=4&token=[redacted]&last_progress_id=2"),
        ("/ws?token=not-even-a-jwt", "/ws?token=[redacted]"),
        ("/x?access_token=a&api_key=b&Password=c&%74oken=d", "/x?access_token=[redacted]&api_key=[redacted]&Password=[redacted]&%74oken=[redacted]"),
        (f"/x?q={TOKEN}", "/x?q=[redacted]"),
        (f"/api/v1/blobs/{TOKEN}", "/api/v1/blobs/[redacted]"),
        ("/api/v1/users/alice/blobs?book_id=b&limit=5", "/api/v1/users/alice/blobs?book_id=b&limit=5"),
        ("/healthz", "/healthz"),
    ],
)
def test_credentials_in_a_target_are_redacted(target: str, logged: str) -> None:
    assert redacted_target(target) == logged
