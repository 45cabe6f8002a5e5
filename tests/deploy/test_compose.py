"""docker-compose.yml, the Dockerfile, Prometheus and Grafana files checked against the code they deploy (no
container engine runs here): every command is one the CLI takes, every setting is one Settings accepts with
that value, ports, health checks and scrape targets agree, and the image holds every package."""

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from cli.main import _parser
from config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
TRACKMINT = {name: service for name, service in SERVICES.items() if service.get("image") == "trackmint:latest"}
LONG_RUNNING = {name: service for name, service in TRACKMINT.items() if service["command"][0] == "serve"}
OPS_PORT = 9464

_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolated(value: object) -> str:
    """A compose value with `${VAR:-default}` replaced by its default and `${VAR:?message}` (required) by a
    value that is valid for it, as a user's .env would give."""
    def replace(match: re.Match) -> str:
        name, kind, rest = match.groups()
        if kind == "-":
            return rest
        assert kind == "?", f"{name} has neither a default nor a required message"
        return "x" * 48  # a secret key of the required length
    return _VARIABLE.sub(replace, str(value))


def environment(service: dict) -> dict[str, str]:
    return {name: interpolated(value) for name, value in (service.get("environment") or {}).items()}


def test_every_service_runs_a_command_the_cli_takes():
    assert set(LONG_RUNNING) == {"ingest", "processor", "query", "alerting", "destinations"}
    assert SERVICES["migrate"]["command"] == ["migrate"]
    for name, service in TRACKMINT.items():
        parsed = _parser().parse_args(service["command"])
        if parsed.command == "serve":
            assert parsed.service == name
        assert service.get("build") == "." and (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("name", sorted(TRACKMINT))
def test_every_setting_is_a_known_one_and_valid(name: str):
    env = environment(TRACKMINT[name])
    fields = {f"TRACKMINT_{field.upper()}" for field in Settings.model_fields}
    unknown = sorted(set(env) - fields)
    assert not unknown, f"{name} sets settings that do not exist: {unknown}"
    try:
        settings = Settings(_env_file=None, **{key.removeprefix("TRACKMINT_").lower(): value
                                               for key, value in env.items()})
    except ValidationError as error:
        pytest.fail(f"{name}'s environment is refused by Settings: {error}")
    assert settings.mode == "production" and settings.log_format == "json"
    assert settings.database_url and settings.database_url.startswith("postgresql://")
    assert settings.nats_url == "nats://nats:4222"


def test_published_ports_are_the_ones_the_services_listen_on():
    defaults = Settings(_env_file=None)
    ingest_env, query_env = environment(SERVICES["ingest"]), environment(SERVICES["query"])
    assert ingest_env["TRACKMINT_INGEST_HOST"] == ingest_env["TRACKMINT_BRIDGE_HOST"] == "0.0.0.0"
    assert query_env["TRACKMINT_QUERY_HOST"] == "0.0.0.0"

    def published(service: str) -> set[int]:
        return {int(str(port).split(":")[-1].split("/")[0]) for port in SERVICES[service].get("ports", [])}

    assert published("ingest") == {defaults.ingest_port, defaults.bridge_port}
    assert published("query") == {defaults.query_port}
    for name in ("processor", "alerting", "destinations"):
        assert published(name) == set(), f"{name} publishes a port: its ops endpoints stay on the compose network"


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_service_has_a_restart_policy_and_a_readiness_health_check(name: str):
    service, env = LONG_RUNNING[name], environment(LONG_RUNNING[name])
    assert service["restart"] == "unless-stopped"
    check = " ".join(service["healthcheck"]["test"])
    port = int(Settings(_env_file=None).query_port) if name == "query" else OPS_PORT
    assert f"http://127.0.0.1:{port}/readyz" in check
    if name != "query":
        assert env[f"TRACKMINT_{name.upper()}_OPS_PORT"] == str(OPS_PORT) and env["TRACKMINT_OPS_HOST"] == "0.0.0.0"
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_replicas_as_designed():
    assert SERVICES["processor"]["deploy"]["replicas"] == 2
    assert SERVICES["alerting"]["deploy"]["replicas"] == 2
    assert SERVICES["destinations"]["deploy"]["replicas"] == 2
    assert "-js" in SERVICES["nats"]["command"] and "nats-data:/data" in SERVICES["nats"]["volumes"]
    assert any(volume.startswith("postgres-data:") for volume in SERVICES["postgres"]["volumes"])


def test_the_image_holds_every_package_and_the_built_web_ui():
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (?:--from=\S+ )?\S+ \./(\S+)$", dockerfile, re.MULTILINE))
    includes = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {pattern.rstrip("*") for pattern in includes["include"]}
    assert packages <= copied, f"the Dockerfile does not copy {sorted(packages - copied)}"
    assert {"proto", "sdk/js", "webui/dist"} <= copied
    # Every top-level package on disk is in the install list: none can be left out of both.
    on_disk = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert on_disk <= packages, f"packages missing from pyproject.toml: {sorted(on_disk - packages)}"
    assert "npm run build" in dockerfile


def test_prometheus_scrapes_every_replica_of_every_service_where_it_serves_metrics():
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {}
    for job in config["scrape_configs"]:
        [discovery] = job["dns_sd_configs"]
        [name] = discovery["names"]
        targets[name] = discovery["port"]
    assert targets == {name: 8000 if name == "query" else OPS_PORT for name in LONG_RUNNING}
    monitoring = {name for name, service in SERVICES.items() if "monitoring" in service.get("profiles", [])}
    assert monitoring == {"prometheus", "grafana"}
    mounted = " ".join(SERVICES["prometheus"]["volumes"])
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in mounted


def test_the_provisioned_dashboard_is_the_one_the_script_builds():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_dashboard", ROOT / "deploy/grafana/build_dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stored = json.loads((ROOT / "deploy/grafana/dashboards/trackmint-operations.json").read_text())
    assert stored == module.dashboard(), "run `python deploy/grafana/build_dashboard.py`"
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/trackmint.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["uid"] == module.DATASOURCE["uid"]


def test_the_example_environment_names_only_real_settings():
    names = re.findall(r"^#?\s*(TRACKMINT_\w+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    fields = {f"TRACKMINT_{field.upper()}" for field in Settings.model_fields}
    assert names and set(names) <= fields
    compose_text = (ROOT / "docker-compose.yml").read_text()
    for name in names:
        assert name in compose_text, f"{name} is in .env.example but docker-compose.yml does not pass it on"
