"""Configuration fails clearly; tokens are checked strictly."""

from __future__ import annotations

import time

import jwt
import pytest

from gateway.settings import Settings as GatewaySettings
from index_service.settings import Settings as IndexSettings
from servicekit.auth import issue_token, verify_token
from servicekit.errors import Unauthorized
from servicekit.settings import ConfigError

SECRET = "s" * 32


def test_settings_read_from_the_environment() -> None:
    settings = IndexSettings.from_env({"STUDIO_SERVICE_TOKEN": "t", "STUDIO_INDEX_PORT": "9999"})
    assert settings.port == 9999 and settings.service_token == "t"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({}, "STUDIO_SERVICE_TOKEN must be set"),
        ({"STUDIO_SERVICE_TOKEN": "t", "STUDIO_INDEX_PORT": "eighty"}, "STUDIO_INDEX_PORT='eighty' is not an integer"),
        ({"STUDIO_SERVICE_TOKEN": "t", "STUDIO_INDEX_PORT": "70000"}, "outside"),
        ({"STUDIO_SERVICE_TOKEN": "t", "STUDIO_INDEX_MONGO_URL": "http://x"}, "must start with"),
        ({"STUDIO_SERVICE_TOKEN": "t", "STUDIO_INDEX_TEST_CRASH_BEFORE_PUBLISH": "maybe"}, "not a boolean"),
    ],
)
def test_bad_settings_fail_with_the_variable_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IndexSettings.from_env(environ)


def test_gateway_needs_its_secret() -> None:
    with pytest.raises(ConfigError, match="STUDIO_JWT_SECRET"):
        GatewaySettings.from_env({"STUDIO_SERVICE_TOKEN": "t"})
    with pytest.raises(ConfigError, match="at least 32"):
        GatewaySettings.from_env({"STUDIO_SERVICE_TOKEN": "t", "STUDIO_JWT_SECRET": "short"})


def test_tokens_round_trip_and_refuse_forgery_and_expiry() -> None:
    token = issue_token(SECRET, "alice")
    assert verify_token(SECRET, token) == "alice"
    with pytest.raises(Unauthorized):
        verify_token("x" * 40, token)
    with pytest.raises(Unauthorized, match="expired"):
        verify_token(SECRET, issue_token(SECRET, "alice", ttl_seconds=10, now=time.time() - 100))
    no_expiry = jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        verify_token(SECRET, no_expiry)
    with pytest.raises(Unauthorized):
        verify_token(SECRET, jwt.encode({"sub": "alice", "exp": time.time() + 60}, SECRET * 2, algorithm="HS384"))
