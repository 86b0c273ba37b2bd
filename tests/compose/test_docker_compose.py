"""The Docker stack: docker-compose.yaml renders, wires an Airflow 3 CeleryExecutor deployment the
way the project needs it, refuses to start without its secrets, and the Dockerfile builds the image
the compose file runs.

Rendering uses Debian's ``docker-compose`` binary (``make test`` installs it); no Docker engine is
needed. Assertions read the *rendered* configuration (``docker-compose config``), so YAML anchors,
merge keys and ``${VAR}`` interpolation are resolved exactly as compose resolves them.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yaml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
DOCKER_COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="Debian's docker-compose binary is not installed (`make test-deps` or `apt-get install docker-compose`)",
)

#: Each long-running Airflow service and the command it must run.
AIRFLOW_COMMANDS = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}
AIRFLOW_SERVICES = sorted(AIRFLOW_COMMANDS) + ["airflow-init"]
#: Secrets the stack must never start without (each is `${VAR:?...}` in the compose file).
REQUIRED_SECRETS = {"POSTGRES_PASSWORD", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_FERNET_KEY"}
#: `${VAR...}` or `$VAR`, but not the `$${VAR}` escape that compose passes through to the container.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")


def compose_variables() -> set[str]:
    """Names of the variables docker-compose.yaml interpolates from the environment / env file."""
    return {braced or bare for braced, bare in COMPOSE_VARIABLE.findall(COMPOSE_FILE.read_text())}


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of an env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def write_env_file(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def run_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    """``docker-compose --env-file ENV -f docker-compose.yaml ARGS``, with none of the compose file's
    variables (or COMPOSE_*) inherited from this shell, so only ``env_file`` decides."""
    scrubbed = compose_variables()
    env = {key: value for key, value in os.environ.items() if key not in scrubbed and not key.startswith("COMPOSE_")}
    return subprocess.run(
        [DOCKER_COMPOSE, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def render(env_file: Path) -> dict:
    result = run_compose(env_file, "config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def as_argv(command) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def mounts(service: dict) -> dict[str, str]:
    """Container path -> source (absolute host path for binds, volume name for named volumes), for
    both the short (compose v1) and the long (compose v2) syntax of ``config`` output."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found[volume["target"]] = volume["source"]
        else:
            parts = volume.split(":")
            if len(parts) >= 2:
                found[parts[1]] = parts[0]
    return found


def container_ports(service: dict) -> set[int]:
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.add(int(port["target"]))
        else:
            ports.add(int(str(port).split("/")[0].rsplit(":", 1)[-1]))
    return ports


@pytest.fixture(scope="module")
def secrets_env(tmp_path_factory) -> dict[str, str]:
    """.env.example with every required secret replaced by a fresh random value (what a user does)."""
    values = read_env_file(ENV_EXAMPLE)
    for name in REQUIRED_SECRETS:
        values[name] = secrets.token_hex(16)
    values["AIRFLOW_ADMIN_USER"] = "ada"
    values["env_file"] = str(write_env_file(tmp_path_factory.mktemp("env") / ".env", values))
    return values


@pytest.fixture(scope="module")
def stack(secrets_env) -> dict:
    """The rendered compose configuration for ``secrets_env``."""
    return render(Path(secrets_env["env_file"]))


@pytest.fixture(scope="module")
def services(stack) -> dict:
    return stack["services"]


# --- (1) the file validates --------------------------------------------------------------------


@needs_compose
def test_compose_file_validates_with_the_example_env_file():
    result = run_compose(ENV_EXAMPLE, "config", "-q")
    assert result.returncode == 0, result.stderr


# --- (2) the rendered stack -----------------------------------------------------------------


@needs_compose
def test_every_airflow_component_runs_its_airflow_3_command(services):
    for name, argv in AIRFLOW_COMMANDS.items():
        assert name in services, f"service {name} missing"
        assert as_argv(services[name]["command"]) == argv, name
    init_script = " ".join(as_argv(services["airflow-init"]["command"]))
    assert "airflow db migrate" in init_script
    assert "users create" not in init_script and "_AIRFLOW_WWW_USER" not in init_script
    assert "webserver" not in services and not any(
        "webserver" in as_argv(service.get("command", [])) for service in services.values()
    )


@needs_compose
def test_backing_services_are_postgres_16_and_redis_7_with_healthchecks(services):
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-worker"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    api_check = " ".join(as_argv(services["airflow-apiserver"]["healthcheck"]["test"]))
    assert re.search(r"localhost:8080/api/v2/(version|monitor/health)", api_check), api_check


@needs_compose
def test_celery_executor_with_redis_broker_and_postgres_metadata_and_results(services, secrets_env):
    postgres_password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert postgres_password == secrets_env["POSTGRES_PASSWORD"]
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.port or 6379) == ("redis", "redis", 6379), name
        for key, scheme in (
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2"),
            ("AIRFLOW__CELERY__RESULT_BACKEND", "db+postgresql"),
        ):
            url = urlsplit(env[key])
            assert (url.scheme, url.hostname, url.path) == (scheme, "postgres", "/airflow"), (name, key)
            assert (url.username, url.password) == ("airflow", postgres_password), (name, key)
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false", name


@needs_compose
def test_all_components_share_one_jwt_secret_and_find_the_execution_api(services, secrets_env):
    for key, variable in (
        ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW_JWT_SECRET"),
        ("AIRFLOW__API__SECRET_KEY", "AIRFLOW_API_SECRET_KEY"),
        ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW_FERNET_KEY"),
    ):
        values = {name: services[name]["environment"].get(key) for name in AIRFLOW_SERVICES}
        assert set(values.values()) == {secrets_env[variable]}, (key, values)
    api_ports = container_ports(services["airflow-apiserver"])
    for name in AIRFLOW_SERVICES:
        url = urlsplit(services[name]["environment"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert url.hostname == "airflow-apiserver" and url.path == "/execution/", name
        assert (url.port or 80) in api_ports, (name, url.port, api_ports)


@needs_compose
def test_api_requires_a_login_and_only_the_api_server_holds_the_passwords(services, secrets_env):
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("simple_auth_manager.SimpleAuthManager"), name
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"].lower() == "false", name
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == f"{secrets_env['AIRFLOW_ADMIN_USER']}:admin"
    passwords_dir = str(
        Path(services["airflow-apiserver"]["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).parent
    )
    assert passwords_dir in mounts(services["airflow-apiserver"]), "passwords file would not survive a restart"
    for name in AIRFLOW_SERVICES:
        if name != "airflow-apiserver":
            assert passwords_dir not in mounts(services[name]), f"{name} (runs task code) can read the passwords"


@needs_compose
def test_code_is_mounted_and_every_component_shares_the_data_root(stack, services):
    data_volumes = set()
    for name in AIRFLOW_SERVICES:
        service_mounts = mounts(services[name])
        for folder in ("dags", "plugins", "include"):
            assert service_mounts.get(f"/opt/airflow/{folder}") == str(PROJECT_ROOT / folder), (name, folder)
        env = services[name]["environment"]
        assert env["PYTHONPATH"].split(":")[0] == "/opt/airflow", name
        data_dir = env["EMBEDDINGS_DATA_DIR"]
        assert data_dir in service_mounts, f"{name}: EMBEDDINGS_DATA_DIR {data_dir} is not a volume"
        data_volumes.add(service_mounts[data_dir])
    assert len(data_volumes) == 1, f"Airflow services use different data volumes: {data_volumes}"
    assert data_volumes.pop() in stack.get("volumes", {}), "the data root is not a named volume"


@needs_compose
def test_every_airflow_service_runs_the_image_built_from_the_dockerfile(services):
    images = set()
    for name in AIRFLOW_SERVICES:
        build = services[name].get("build")
        assert build, f"{name} does not build from the Dockerfile"
        assert Path(build["context"]) == PROJECT_ROOT, name
        assert (Path(build["context"]) / build.get("dockerfile", "Dockerfile")) == DOCKERFILE, name
        images.add(services[name].get("image"))
        assert services[name]["user"].endswith(":0"), f"{name} must run in group 0 (the image's rule)"
    assert len(images) == 1, images


@needs_compose
def test_start_order_waits_for_healthy_backends_and_a_finished_migration(services):
    for name in AIRFLOW_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on["postgres"]["condition"] == "service_healthy", name
        assert depends_on["redis"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert depends_on["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


# --- the init guard against copied placeholders ------------------------------------------------


def run_init_script(service: dict, tmp_path: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """Run airflow-init's rendered script with bash, ``airflow`` replaced by a stub that records its args."""
    argv = as_argv(service["command"])
    assert argv[:2] == ["bash", "-c"], argv
    script = argv[2].replace("$$", "$")  # compose's escape; the container sees a single $
    stub_dir = tmp_path / "bin"
    stub_dir.mkdir()
    calls = tmp_path / "airflow-calls"
    stub = stub_dir / "airflow"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {shlex.quote(str(calls))}\n')
    stub.chmod(0o755)
    env = {**{k: str(v) for k, v in service["environment"].items()}, "PATH": f"{stub_dir}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    return result, calls


@needs_compose
def test_init_refuses_to_migrate_with_the_example_placeholders(tmp_path):
    placeholders = render(ENV_EXAMPLE)["services"]["airflow-init"]
    result, calls = run_init_script(placeholders, tmp_path)
    assert result.returncode != 0
    assert "AIRFLOW__API_AUTH__JWT_SECRET" in result.stderr
    assert not calls.exists(), "airflow ran although the secrets are placeholders"


@needs_compose
def test_init_migrates_the_database_with_real_secrets(services, tmp_path):
    result, calls = run_init_script(services["airflow-init"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        "db migrate",
        "pools set word2vec_training 1 serializes Word2Vec training",
    ]


# --- (3) the Dockerfile --------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.strip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def test_dockerfile_extends_airflow_3_3_2_on_the_python_of_the_constraints():
    instructions = dockerfile_instructions()
    froms = [args for instruction, args in instructions if instruction == "FROM"]
    assert froms == ["apache/airflow:3.3.2-python3.11"], froms
    pinned = re.search(r"^apache-airflow(?:\[[^\]]*\])?==(\S+)", (PROJECT_ROOT / "requirements.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == "3.3.2", "requirements.txt pins another Airflow than the base image"
    requires_python = (PROJECT_ROOT / "pyproject.toml").read_text()
    assert re.search(r'requires-python\s*=\s*">=3\.11,<3\.12"', requires_python), "constraints were frozen on 3.11"


def test_dockerfile_installs_the_requirements_with_the_constraints_as_the_airflow_user():
    instructions = dockerfile_instructions()
    copies = [
        i
        for i, (instruction, args) in enumerate(instructions)
        if instruction == "COPY" and "requirements.txt" in args.split() and "constraints.txt" in args.split()
    ]
    installs = [
        i for i, (instruction, args) in enumerate(instructions) if instruction == "RUN" and "pip install" in args
    ]
    assert copies and installs and copies[0] < installs[0], "requirements must be copied before pip install"
    pip = shlex.split(instructions[installs[0]][1])
    assert "--no-cache-dir" in pip
    assert pip[pip.index("-r") + 1].endswith("requirements.txt")
    assert pip[pip.index("-c") + 1].endswith("constraints.txt")
    users = [args for instruction, args in instructions[: installs[0]] if instruction == "USER"]
    assert users and users[-1] == "airflow", "pip must run as the airflow user"
    final_users = [args for instruction, args in instructions if instruction == "USER"]
    assert final_users[-1] == "airflow", "the image must not end as root"
    envs = " ".join(args for instruction, args in instructions if instruction == "ENV")
    assert re.search(r"\bPYTHONPATH=/opt/airflow\b", envs), "`include` would not be importable"


def test_dockerignore_keeps_secrets_out_and_what_the_dockerfile_copies_in():
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    assert ".env" in patterns and ".venv" in patterns and "data" in patterns
    copied = set()
    for instruction, args in dockerfile_instructions():
        if instruction == "COPY":
            copied |= {arg.rstrip("/") for arg in args.split()[:-1] if not arg.startswith("--")}
    assert {"requirements.txt", "constraints.txt", "dags", "plugins", "include"} <= copied
    assert not copied & set(patterns), f".dockerignore excludes files the Dockerfile copies: {copied & set(patterns)}"


# --- (4) no start without secrets -------------------------------------------------------------


def test_every_secret_is_required_by_the_compose_file():
    required = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\?", COMPOSE_FILE.read_text()))
    assert required == REQUIRED_SECRETS


@needs_compose
def test_compose_refuses_an_empty_env_file(tmp_path):
    result = run_compose(write_env_file(tmp_path / "empty.env", {}), "config", "-q")
    assert result.returncode != 0
    assert any(name in result.stderr for name in REQUIRED_SECRETS), result.stderr


@needs_compose
@pytest.mark.parametrize("missing", sorted(REQUIRED_SECRETS))
def test_compose_names_each_missing_secret(missing, tmp_path):
    values = {name: secrets.token_hex(8) for name in REQUIRED_SECRETS - {missing}}
    result = run_compose(write_env_file(tmp_path / "partial.env", values), "config", "-q")
    assert result.returncode != 0, f"compose rendered without {missing}"
    assert missing in result.stderr, result.stderr


# --- (5) .env.example documents the compose file ------------------------------------------------


def test_env_example_lists_every_variable_the_compose_file_uses():
    documented = read_env_file(ENV_EXAMPLE)
    used = compose_variables()
    assert used >= REQUIRED_SECRETS
    assert used - documented.keys() == set(), "used by docker-compose.yaml but not in .env.example"
    assert documented.keys() - used == set(), "in .env.example but unused by docker-compose.yaml"
    for name in REQUIRED_SECRETS:
        assert "change-me" in documented[name], f"{name} in .env.example must be an obvious placeholder"


# --- (6) the optional object store as the data root --------------------------------------------


@needs_compose
def test_the_object_store_profile_gives_workers_an_s3_data_root(secrets_env, tmp_path):
    values = read_env_file(Path(secrets_env["env_file"]))
    values.update(EMBEDDINGS_DATA_DIR="s3://embeddings/data", OBJECT_STORE_SECRET_KEY=secrets.token_hex(16))
    env_file = write_env_file(tmp_path / ".env", values)
    result = run_compose(env_file, "--profile", "object-store", "config")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    store = services["object-store"]
    assert re.fullmatch(r"chrislusf/seaweedfs:\d+\.\d+", store["image"]), "a pinned, maintained image"
    assert as_argv(store["command"])[:1] == ["mini"] and "-bucket=embeddings" in as_argv(store["command"])
    assert store["environment"]["AWS_SECRET_ACCESS_KEY"] == values["OBJECT_STORE_SECRET_KEY"]
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["EMBEDDINGS_DATA_DIR"] == "s3://embeddings/data", name
        assert env["AWS_ENDPOINT_URL"] == "http://object-store:8333", name
        assert env["AWS_SECRET_ACCESS_KEY"] == values["OBJECT_STORE_SECRET_KEY"], name
    assert store["profiles"] == ["object-store"], "optional: started only with --profile object-store"


@needs_compose
def test_init_refuses_an_s3_data_root_with_the_placeholder_store_secret(secrets_env, tmp_path):
    values = {**read_env_file(Path(secrets_env["env_file"])), "EMBEDDINGS_DATA_DIR": "s3://embeddings/data"}
    init = render(write_env_file(tmp_path / ".env", values))["services"]["airflow-init"]
    result, calls = run_init_script(init, tmp_path)
    assert result.returncode != 0 and "OBJECT_STORE_SECRET_KEY" in result.stderr
    assert not calls.exists()
