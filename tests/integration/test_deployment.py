"""docker-compose.yml is the production deployment. No Docker engine runs here, so it is checked statically:
against the Compose Specification's JSON schema, and every service's command against the real entry points."""

from __future__ import annotations

import importlib
import json
import re
from importlib import resources
from typing import Any

import jsonschema
import pytest
import typer
import yaml
from celery import Celery
from celery.bin.celery import celery as celery_cli

from freshrag.settings import Settings
from freshrag_cli.main import app as freshrag_app
from tests.conftest import PROJECT

COMPOSE = yaml.safe_load((PROJECT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
FRESHRAG_SERVICES = ["api", "watcher", "worker", "beat"]


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(
        (resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text()
    )
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(COMPOSE), key=str)
    assert [f"{list(e.absolute_path)}: {e.message}" for e in errors] == []


def test_the_deployment_has_every_role_and_its_backends() -> None:
    assert set(SERVICES) >= {"redis", "qdrant", *FRESHRAG_SERVICES, "prometheus", "grafana"}
    assert "--appendonly" in SERVICES["redis"]["command"]
    for name, service in SERVICES.items():
        assert service.get("restart") == "unless-stopped", name
    for name in ("redis", "qdrant", "api", "worker", "prometheus", "grafana"):
        assert "healthcheck" in SERVICES[name], name
    for name in ("container_name", "ports"):
        assert name not in SERVICES["worker"], f"`{name}` would stop `--scale worker=N`"


@pytest.mark.parametrize("name", FRESHRAG_SERVICES)
def test_each_freshrag_command_is_a_real_entry_point_with_valid_options(name: str) -> None:
    program, *args = SERVICES[name]["command"]
    assert program == "freshrag"
    group = typer.main.get_command(freshrag_app)
    with group.make_context("freshrag", list(args)) as context:
        # Both raise a usage error for an unknown command, an unknown option or a bad value.
        command_name, command, rest = group.resolve_command(context, list(args))  # type: ignore[attr-defined]
        assert command is not None
        command.make_context(command_name, rest, parent=context)


def test_the_worker_healthcheck_runs_a_real_celery_command() -> None:
    test = SERVICES["worker"]["healthcheck"]["test"][1]
    program, flag, module, subcommand, *_ = test.split()
    assert (program, flag) == ("celery", "-A")
    assert isinstance(importlib.import_module(module).app, Celery)
    assert subcommand in celery_cli.commands


@pytest.mark.parametrize("name", FRESHRAG_SERVICES)
def test_every_freshrag_variable_in_the_deployment_is_a_real_setting(name: str) -> None:
    known = {f"FRESHRAG_{field.upper()}" for field in Settings.model_fields}
    variables = {key for key in SERVICES[name]["environment"] if key.startswith("FRESHRAG_")}
    assert variables - known == set()
    assert {"FRESHRAG_BROKER_URL", "FRESHRAG_QDRANT_URL"} <= variables
    assert re.match(r"redis://redis:\d+/", SERVICES[name]["environment"]["FRESHRAG_BROKER_URL"])
