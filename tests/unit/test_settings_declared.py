"""Each setting is declared once: the README's table is made from the declarations, and loading
them reads OpenTelemetry's variables as OpenTelemetry does."""

from __future__ import annotations

import pytest

from compose.settings_table import README, readme_with_table, rows
from gateway.settings import Settings as GatewaySettings
from processors.text_expansion.settings import Settings as TextExpansionSettings
from servicekit.settings import ConfigError
from servicekit.tracing import Tracing

SECRETS = {"STUDIO_SERVICE_TOKEN": "s" * 40, "STUDIO_JWT_SECRET": "j" * 40}


def test_the_readme_table_is_the_declarations() -> None:
    readme = README.read_text()
    assert readme == readme_with_table(readme), "README.md is out of date: run python -m compose.settings_table --write"


def test_every_variable_is_declared_once_and_times_are_in_seconds() -> None:
    variables = [row.variable for row, _ in rows()]
    assert len(variables) == len(set(variables))
    assert not [v for v in variables if v.endswith("_MS")]


def test_a_bad_value_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="STUDIO_GATEWAY_BUDGET_SECONDS"):
        GatewaySettings.from_env({**SECRETS, "STUDIO_GATEWAY_BUDGET_SECONDS": "soon"})
    with pytest.raises(ConfigError, match=r"STUDIO_TEXT_EXPANSION_SECTION_ATTEMPTS=0 is outside 1\.\.20"):
        TextExpansionSettings.from_env({**SECRETS, "STUDIO_TEXT_EXPANSION_SECTION_ATTEMPTS": "0"})
    with pytest.raises(ConfigError, match="OTEL_TRACES_SAMPLER"):
        GatewaySettings.from_env({**SECRETS, "OTEL_TRACES_SAMPLER": "sometimes"})
    with pytest.raises(ConfigError, match="STUDIO_SERVICE_TOKEN must be set"):
        GatewaySettings.from_env({"STUDIO_JWT_SECRET": "j" * 40})


def test_a_processor_reads_its_own_prefix_and_the_shared_block() -> None:
    settings = TextExpansionSettings.from_env(
        {**SECRETS, "STUDIO_TEXT_EXPANSION_PORT": "9012", "STUDIO_MAX_BODY_BYTES": "4096"}
    )
    assert settings.runtime.port == 9012 and settings.runtime.base_url == "http://127.0.0.1:9012"
    assert settings.runtime.concurrency == 64 and settings.runtime.max_body_bytes == 4096
    assert settings.runtime.metrics_token == SECRETS["STUDIO_SERVICE_TOKEN"]
    assert settings.limits.attempts == 4


async def test_opentelemetry_variables_work_as_everywhere_else() -> None:
    tracing = GatewaySettings.from_env(
        {
            **SECRETS,
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
            "OTEL_SERVICE_NAME": "studio-edge",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
    ).tracing
    assert tracing.traces_endpoint == "http://collector:4318/v1/traces"
    made = Tracing("gateway", "here:1", tracing)
    try:
        assert made.provider.resource.attributes["service.name"] == "studio-edge"
        assert "TraceIdRatioBased{0.25}" in made.provider.sampler.get_description()
    finally:
        await made.close()
    explicit = GatewaySettings.from_env(
        {**SECRETS, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example.test/in"}
    ).tracing
    assert explicit.traces_endpoint == "https://traces.example.test/in"
    assert GatewaySettings.from_env(SECRETS).tracing.traces_endpoint is None  # spans made, never sent
