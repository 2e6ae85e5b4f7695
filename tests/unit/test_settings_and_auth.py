"""Configuration fails clearly; tokens are checked strictly."""

from __future__ import annotations

import time

import jwt
import pytest

from gateway.settings import Settings as GatewaySettings
from index_service.settings import Settings as IndexSettings
from servicekit.auth import issue_token, verify_claims, verify_token
from servicekit.errors import Unauthorized
from servicekit.settings import ConfigError

SECRET = "s" * 32
SERVICE = "t" * 32  # a service token of the shortest length allowed


def test_settings_read_from_the_environment() -> None:
    settings = IndexSettings.from_env({"STUDIO_SERVICE_TOKEN": SERVICE, "STUDIO_INDEX_PORT": "9999"})
    assert settings.port == 9999 and settings.service_token == SERVICE
    assert settings.metrics_token == SERVICE, "the scrape token is the service token unless set"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({}, "STUDIO_SERVICE_TOKEN must be set"),
        ({"STUDIO_SERVICE_TOKEN": "t"}, "STUDIO_SERVICE_TOKEN must be at least 32 characters long"),
        (
            {"STUDIO_SERVICE_TOKEN": SERVICE, "STUDIO_METRICS_TOKEN": "m"},
            "STUDIO_METRICS_TOKEN must be at least 32 characters long",
        ),
        (
            {"STUDIO_SERVICE_TOKEN": SERVICE, "STUDIO_INDEX_PORT": "eighty"},
            "STUDIO_INDEX_PORT='eighty' is not an integer",
        ),
        ({"STUDIO_SERVICE_TOKEN": SERVICE, "STUDIO_INDEX_PORT": "70000"}, "outside"),
        ({"STUDIO_SERVICE_TOKEN": SERVICE, "STUDIO_INDEX_MONGO_URL": "http://x"}, "must start with"),
        ({"STUDIO_SERVICE_TOKEN": SERVICE, "STUDIO_INDEX_TEST_CRASH_BEFORE_PUBLISH": "maybe"}, "not a boolean"),
    ],
)
def test_bad_settings_fail_with_the_variable_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IndexSettings.from_env(environ)


def test_gateway_needs_its_secret() -> None:
    with pytest.raises(ConfigError, match="STUDIO_JWT_SECRET"):
        GatewaySettings.from_env({"STUDIO_SERVICE_TOKEN": SERVICE})
    with pytest.raises(ConfigError, match="at least 32"):
        GatewaySettings.from_env({"STUDIO_SERVICE_TOKEN": SERVICE, "STUDIO_JWT_SECRET": "short"})


def test_the_scrape_token_and_the_longest_token_lifetime_are_read_once() -> None:
    base = {"STUDIO_SERVICE_TOKEN": SERVICE, "STUDIO_JWT_SECRET": SECRET}
    settings = GatewaySettings.from_env(
        {**base, "STUDIO_METRICS_TOKEN": "m" * 40, "STUDIO_JWT_MAX_LIFETIME_SECONDS": "3600"}
    )
    assert (settings.metrics_token, settings.jwt_max_lifetime_seconds) == ("m" * 40, 3600)
    assert GatewaySettings.from_env(base).jwt_max_lifetime_seconds == 30 * 24 * 3600
    for wrong in ("59", str(367 * 24 * 3600), "a week"):
        with pytest.raises(ConfigError, match="STUDIO_JWT_MAX_LIFETIME_SECONDS"):
            GatewaySettings.from_env({**base, "STUDIO_JWT_MAX_LIFETIME_SECONDS": wrong})
    with pytest.raises(ConfigError, match="STUDIO_SERVICE_TOKEN must be at least 32"):
        GatewaySettings.from_env({**base, "STUDIO_SERVICE_TOKEN": "short"})


@pytest.mark.parametrize("missing", ["STUDIO_JWT_ISSUER", "STUDIO_JWT_AUDIENCE"])
def test_an_identity_provider_needs_an_issuer_and_an_audience(missing: str) -> None:
    provider = {
        "STUDIO_SERVICE_TOKEN": SERVICE,
        "STUDIO_JWT_SECRET": SECRET,
        "STUDIO_JWKS_URL": "https://id.example.test/jwks.json",
        "STUDIO_JWT_ISSUER": "https://id.example.test/",
        "STUDIO_JWT_AUDIENCE": "reyna-studio",
    }
    assert GatewaySettings.from_env(provider).jwks_url == "https://id.example.test/jwks.json"
    with pytest.raises(ConfigError, match=f"{missing} must be set when STUDIO_JWKS_URL is"):
        GatewaySettings.from_env({k: v for k, v in provider.items() if k != missing})


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


def _signed(**claims: object) -> str:
    return jwt.encode({"sub": "alice", **claims}, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": "9999999999"}, "exp is not a number"),
        ({"exp": True}, "exp is not a number"),
        ({"exp": 4102444800, "nbf": "0"}, "nbf is not a number"),
        ({"exp": 4102444800, "iat": False}, "iat is not a number"),
        ({"exp": 10**400}, "out of range"),
        ({"exp": 1, "nbf": [1]}, "nbf is not a number"),
    ],
)
def test_token_times_must_be_json_numbers(claims: dict[str, object], why: str) -> None:
    with pytest.raises(Unauthorized, match=why):
        verify_token(SECRET, _signed(**claims))


def test_own_tokens_expire_when_they_say_and_live_no_longer_than_allowed() -> None:
    now = time.time()
    with pytest.raises(Unauthorized, match="expired"):
        verify_token(SECRET, issue_token(SECRET, "alice", ttl_seconds=60, now=now - 62))  # 2 s past exp: no leeway
    century = issue_token(SECRET, "alice", ttl_seconds=100 * 365 * 24 * 3600)
    with pytest.raises(Unauthorized, match="longer than"):
        verify_token(SECRET, century)
    # Without `iat`, the lifetime counts from now.
    with pytest.raises(Unauthorized, match="longer than"):
        verify_token(SECRET, _signed(exp=int(now) + 31 * 24 * 3600))
    assert verify_token(SECRET, _signed(exp=int(now) + 29 * 24 * 3600)) == "alice"
    assert verify_claims(SECRET, issue_token(SECRET, "alice", ttl_seconds=3600), max_lifetime=3600)[0] == "alice"
    with pytest.raises(Unauthorized, match="longer than"):
        verify_claims(SECRET, issue_token(SECRET, "alice", ttl_seconds=3601), max_lifetime=3600)
    with pytest.raises(Unauthorized, match="future"):
        verify_token(SECRET, _signed(iat=int(now) + 60, exp=int(now) + 120))


def test_studio_token_issues_no_token_the_gateway_would_refuse(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from compose.cli import main

    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STUDIO_JWT_SECRET", SECRET)
    assert main(["token", "alice", "--ttl", "3600"]) == 0
    assert verify_claims(SECRET, capsys.readouterr().out.strip())[0] == "alice"
    assert main(["token", "alice", "--ttl", str(31 * 24 * 3600)]) == 2
    assert "STUDIO_JWT_MAX_LIFETIME_SECONDS" in capsys.readouterr().err
    monkeypatch.setenv("STUDIO_JWT_MAX_LIFETIME_SECONDS", "600")
    assert main(["token", "alice", "--ttl", "3600"]) == 2
