"""The deployment files (docker-compose.yml, deploy/Dockerfile, deploy/postgres-init.sql) are read
as text and YAML: no Docker is needed. They must agree with DESIGN.md §1 (one process per service,
one database each) and §3 (configuration only through OPENCOO_* variables)."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from services.chassis.config import DATABASE_SERVICES, SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
POSTGRES_INIT = ROOT / "deploy" / "postgres-init.sql"
DESIGN = ROOT.parent / "shared" / "DESIGN.md"


# DESIGN.md §3.
DESIGN_VARIABLES = {
    "OPENCOO_AMQP_URI",
    "OPENCOO_DB_URL",
    "OPENCOO_VAR",
    "OPENCOO_HTTP",
    "OPENCOO_PUBLIC_URL",
    "OPENCOO_IEC_DIRECTORY",
    "OPENCOO_TRUST_ANCHORS",
    "OPENCOO_PKCS11_MODULE",
    "OPENCOO_PKCS11_TOKEN",
    "OPENCOO_PKCS11_PIN",
    "OPENCOO_SMTP_URL",
    "OPENCOO_SMS_URL",
    "OPENCOO_PAYMENT_PROVIDER",
    "OPENCOO_ADMIN_PASSWORD",
}
PER_SERVICE_DB = {f"OPENCOO_DB_URL_{name.upper()}" for name in DATABASE_SERVICES}
# Ours beyond §3 (README, architecture §10): where the gateway finds the portal and back.
PORTAL_VARIABLES = {"OPENCOO_PORTAL_URL", "OPENCOO_PORTAL_HTTP", "OPENCOO_API_URL"}
ALLOWED_OPENCOO = DESIGN_VARIABLES | PER_SERVICE_DB | PORTAL_VARIABLES
IMAGE_PREFIXES = {"rabbitmq": "RABBITMQ_", "postgres": "POSTGRES_"}


@pytest.fixture(scope="module")
def compose():
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def command_text(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def environment(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def depends_on(service: dict) -> dict:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (cond or {}).get("condition", "service_started") for name, cond in deps.items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        logical.append(current)
        current = ""
    out = []
    for text in logical:
        instruction, _, args = text.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def test_design_table_still_names_the_allowed_variables():
    if not DESIGN.exists():
        pytest.skip("shared/DESIGN.md is not beside the project")
    text = DESIGN.read_text()
    section = text[text.index("## 3.") :]
    section = section[: section.index("\n## ", 1)]
    named = set(re.findall(r"`(OPENCOO_[A-Z0-9_]+)", section))
    assert DESIGN_VARIABLES <= named, DESIGN_VARIABLES - named


def test_compose_names_every_container(services):
    expected = {"rabbitmq", "postgres", "init", "gateway", *SERVICES}
    assert expected <= set(services), expected - set(services)
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.13-management")
    assert services["postgres"]["image"].startswith("postgres:16")


@pytest.mark.parametrize("name", DATABASE_SERVICES)
def test_service_migrates_then_runs_its_own_module(services, name):
    text = command_text(services[name])
    migrate, run = f"opencoo migrate {name}", f"services.{name}.service"
    assert migrate in text and run in text, text
    assert text.index(migrate) < text.index("nameko run") < text.index(run)
    assert "--config deploy/nameko.yaml" in text
    # No other service's module or migrations in this container.
    for other in set(SERVICES) - {name}:
        assert f"services.{other}.service" not in text
        assert f"opencoo migrate {other}" not in text
    # `exec` so nameko gets the stop signal directly and shuts down gracefully.
    if isinstance(services[name]["command"], list) and services[name]["command"][:2] == ["sh", "-c"]:
        assert "exec nameko run" in text


def test_verification_keeps_nothing_and_runs_its_own_module(services):
    text = command_text(services["verification"])
    assert text.startswith("nameko run") and "services.verification.service" in text
    assert "opencoo migrate" not in text and "postgres" not in depends_on(services["verification"])
    assert depends_on(services["gateway"]).get("verification") == "service_started"


@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_broker_database_and_init(services, name):
    deps = depends_on(services[name])
    assert deps.get("rabbitmq") == "service_healthy"
    if name in DATABASE_SERVICES:
        assert deps.get("postgres") == "service_healthy"
    assert deps.get("init") == "service_completed_successfully"
    # Scalable with --scale: nothing that would collide between copies.
    assert "container_name" not in services[name]
    assert "ports" not in services[name]


def test_gateway(services):
    gateway = services["gateway"]
    text = command_text(gateway)
    assert "nameko run" in text and "gateway.service" in text and "--config deploy/nameko.yaml" in text
    assert environment(gateway).get("OPENCOO_HTTP") == "0.0.0.0:8000"
    assert "8000:8000" in [str(p) for p in gateway.get("ports", [])]
    assert depends_on(gateway).get("init") == "service_completed_successfully"


def test_init_is_a_one_shot_that_prepares_the_shared_folder(services):
    init = services["init"]
    assert "opencoo init" in command_text(init)
    assert str(init.get("restart", "no")) == "no"


def test_every_opencoo_container_shares_the_data_volume(compose, services):
    assert {"opencoo-var", "pgdata"} <= set(compose.get("volumes") or {})
    for name in ("init", "gateway", *SERVICES):
        mounts = [str(v) for v in services[name].get("volumes", [])]
        assert "opencoo-var:/var/lib/opencoo" in mounts, (name, mounts)
        assert environment(services[name]).get("OPENCOO_VAR") == "/var/lib/opencoo"
    assert any(
        str(v).startswith("pgdata:/var/lib/postgresql/data") for v in services["postgres"].get("volumes", [])
    )


def test_environment_uses_only_design_variables(services):
    for name, service in services.items():
        prefix = IMAGE_PREFIXES.get(name)
        for key in environment(service):
            if prefix and key.startswith(prefix):
                continue
            assert key in ALLOWED_OPENCOO, f"{name}: {key} is not a DESIGN.md §3 variable"


def test_interpolated_variables_are_design_variables():
    referenced = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE.read_text()))
    assert referenced <= ALLOWED_OPENCOO, referenced - ALLOWED_OPENCOO


def test_opencoo_containers_share_one_environment(services):
    envs = {}
    for name in ("init", *SERVICES):
        envs[name] = environment(services[name])
    first = envs["init"]
    assert all(env == first for env in envs.values())
    assert first["OPENCOO_AMQP_URI"].startswith("amqp://") and "@rabbitmq:5672" in first["OPENCOO_AMQP_URI"]
    db_url = first["OPENCOO_DB_URL"]
    assert db_url.startswith("postgresql://") and "@postgres:5432/" in db_url and "{service}" in db_url
    gateway = dict(environment(services["gateway"]))
    gateway.pop("OPENCOO_HTTP")
    gateway.pop("OPENCOO_PORTAL_URL")
    assert gateway == first
    portal = dict(environment(services["portal"]))
    assert portal.pop("OPENCOO_PORTAL_HTTP").endswith(":8001") and portal.pop("OPENCOO_API_URL")
    assert portal == first


def test_broker_and_database_healthchecks(services):
    rabbit = command_text({"command": services["rabbitmq"]["healthcheck"]["test"]})
    assert "rabbitmq-diagnostics" in rabbit and "ping" in rabbit
    assert "pg_isready" in command_text({"command": services["postgres"]["healthcheck"]["test"]})
    # The broker's credentials are the ones in the AMQP URI (guest cannot log in from another host).
    rabbit_env = environment(services["rabbitmq"])
    uri = environment(services["registration"])["OPENCOO_AMQP_URI"]
    assert f"//{rabbit_env['RABBITMQ_DEFAULT_USER']}:{rabbit_env['RABBITMQ_DEFAULT_PASS']}@" in uri
    pg_env = environment(services["postgres"])
    db_url = environment(services["registration"])["OPENCOO_DB_URL"]
    assert f"//{pg_env['POSTGRES_USER']}:{pg_env['POSTGRES_PASSWORD']}@" in db_url


def test_postgres_init_script_makes_one_database_per_service(services):
    mounts = [str(v) for v in services["postgres"].get("volumes", [])]
    init_mounts = [m for m in mounts if "/docker-entrypoint-initdb.d/" in m]
    assert init_mounts and init_mounts[0].startswith("./deploy/postgres-init.sql:"), mounts
    sql = POSTGRES_INIT.read_text()
    created = set(re.findall(r"CREATE DATABASE\s+(\w+)", sql, re.IGNORECASE))
    db_template = environment(services["registration"])["OPENCOO_DB_URL"].rsplit("/", 1)[1]
    # the portal keeps its sessions in a database of its own
    assert created == {db_template.format(service=name) for name in (*DATABASE_SERVICES, "portal")}


def test_dockerfile_installs_the_lock_then_the_project_without_deps():
    instructions = dockerfile_instructions()
    runs = [args for instr, args in instructions if instr == "RUN"]
    lock_installs = [
        i for i, args in enumerate(runs) if re.search(r"pip install\b[^&;]*-r\s+\S*requirements\.lock", args)
    ]
    project_installs = [i for i, args in enumerate(runs) if re.search(r"pip install\b[^&;]*--no-deps", args)]
    assert lock_installs, "deploy/Dockerfile must pip install -r requirements.lock"
    assert project_installs, "deploy/Dockerfile must install the project with --no-deps"
    assert min(lock_installs) < max(project_installs)
    copies = " ".join(args for instr, args in instructions if instr == "COPY")
    assert "requirements.lock" in copies


def test_dockerfile_runtime_shape():
    instructions = dockerfile_instructions()
    text = "\n".join(f"{i} {a}" for i, a in instructions)
    assert "python:3.11-slim-bookworm" in text
    users = [args for instr, args in instructions if instr == "USER"]
    assert users and users[-1].split(":")[0] == "opencoo"
    workdirs = [args for instr, args in instructions if instr == "WORKDIR"]
    assert workdirs and workdirs[-1] == "/app"
    assert any(instr == "CMD" for instr, _ in instructions)
    apt = " ".join(args for instr, args in instructions if instr == "RUN" and "apt-get install" in args)
    for package in (
        "softhsm2",
        "libpango-1.0-0",
        "libpangoft2-1.0-0",
        "libharfbuzz0b",
        "fonts-dejavu-core",
        "poppler-utils",
        "openssl",
    ):
        assert package in shlex.split(apt), package
    # deploy/nameko.yaml is read relative to /app.
    assert re.search(r"^COPY\s+deploy\s", text, re.MULTILINE)


def test_signing_token_defaults_to_the_one_init_makes(services):
    """cli/devpki treats a set OPENCOO_PKCS11_MODULE or OPENCOO_PKCS11_TOKEN as an external token and
    creates nothing, so compose must leave both empty unless the operator sets them."""
    for name in ("init", "signing"):
        env = environment(services[name])
        for key in ("OPENCOO_PKCS11_MODULE", "OPENCOO_PKCS11_TOKEN"):
            value = env.get(key)
            assert value in (None, "", f"${{{key}:-}}", f"${{{key}}}"), (name, key, value)
    env_lines = [args for instr, args in dockerfile_instructions() if instr == "ENV"]
    assert not any("OPENCOO_PKCS11_MODULE" in args or "OPENCOO_PKCS11_TOKEN" in args for args in env_lines)
