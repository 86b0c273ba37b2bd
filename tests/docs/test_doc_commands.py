"""Every command README.md and docs/*.md show is run here, or is run by the test this file names, or
is listed with the reason it cannot run on this machine: the docs cannot drift from the code.

How commands are found: :mod:`tests.docs.doc_commands`. Each command must match exactly one rule of
:data:`RUN` (run here, for real: exit 0, and the output the docs show appears), :data:`TESTED` (an
expensive command another test runs: that test exists and its source holds the invocation) or
:data:`MANUAL` (cannot run here: why, and what is checked instead). A new command that matches no
rule fails this file, and a rule that matches no command any more fails too.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from functools import cache

import pytest
import yaml

from tests.conftest import PROJECT_ROOT
from tests.docs.conftest import PLACEHOLDERS
from tests.docs.doc_commands import DocCommand, all_commands, output_pattern

COMMANDS = all_commands()
PY = str(PROJECT_ROOT / ".venv" / "bin" / "python")
ASSIGN = r"(?:[A-Z_][A-Z0-9_]*=\S+\s+)*"


@dataclass(frozen=True)
class Ref:
    """A test that runs a documented command: its file, the test functions in it, and strings its
    source must hold (the command, or the script or target invocation it runs)."""

    path: str
    tests: tuple[str, ...] = ()
    needles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    pattern: str  #: matches the whole command
    kind: str  #: "run", "tested" or "manual"
    why: str = ""  #: for "manual": why it cannot run here
    how: str = ""  #: for "run": how it is run (a key of RUNNERS)
    refs: tuple[Ref, ...] = ()  #: for "tested" (and "manual", where a test checks what can be)
    make_n: tuple[str, ...] = field(default=())  #: strings ``make -n <the command's target>`` must print


MAKE_RUN = Ref(
    "tests/e2e/test_make_run.py",
    ("test_make_run_publishes_and_prints_where", "test_make_run_refuses_conf_that_is_not_json_or_breaks_a_param"),
    ('"make", "-s", "run", f"CONF={conf}"',),
)
SCRIPTS_RUN = Ref(
    "tests/e2e/test_make_run.py", ("test_scripts_run_exits_with_the_documented_codes",), ('"scripts" / "run"',)
)
S3_RUN = Ref(
    "tests/e2e/test_s3_data_root.py",
    ("test_make_run_on_an_s3_data_root_publishes_a_whole_version_there",),
    ('"make", "-s", "run"', "EMBEDDINGS_DATA_DIR"),
)
LINEAGE_RUN = Ref(
    "tests/e2e/test_lineage_run.py",
    ("test_lineage_of_a_run_on_a_local_root_and_make_run_exits", "test_lineage_of_a_run_on_an_s3_root"),
    ('"make", "-s", "run"', '"AIRFLOW__OPENLINEAGE__TRANSPORT"', '"type": "file"', '"AIRFLOW__OPENLINEAGE__NAMESPACE"'),
)
LOCAL_AIRFLOW = Ref(
    "tests/integration/test_local_airflow.py",
    ("test_start_and_stop_on_sqlite_print_the_login_and_leave_nothing_behind",),
    ('script("start")', 'script("stop"', 'script("status")'),
)
POSTGRES_AIRFLOW = Ref(
    "tests/integration/test_local_airflow.py",
    ("test_dag_runs_on_local_executor_with_postgres_and_uses_the_conf",),
    ("uses_the_conf(local_airflow)",),  # the shared LocalExecutor cluster, tests/integration/conftest.py
)
POSTGRES_URL = Ref(
    "tests/integration/cluster.py", (), ("postgresql+psycopg2://", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
)
CELERY_CLUSTER = Ref("tests/integration/cluster.py", (), ("AIRFLOW_CELERY_WORKERS",))
CELERY_WORKERS = Ref(
    "tests/integration/test_fault_celery_worker.py",
    ("test_celery_worker_sharing_no_disk_killed_mid_tokenize_is_retried_on_the_other",),
    ('executor="CeleryExecutor", celery_workers=2',),
)
#: scripts/airflow_local.py is what make airflow runs: it starts the components with these commands
AIRFLOW_LOCAL = Ref("scripts/airflow_local.py", (), ('["db", "migrate"]', '["pools", "set"', '"celery",', '"worker",'))
CREATE_DATABASE = Ref("tests/integration/cluster.py", (), ("CREATE DATABASE",))
BACKFILL = Ref(
    "tests/integration/test_backfill_and_gate.py",
    ("test_backfill_of_three_days_then_a_worse_run_through_the_api_is_rejected",),
    ('"backfill",', '"create"', '"--from-date"', '"--to-date"'),
)
BENCH = Ref(
    "tests/benchmarks/test_bench_smoke.py",
    (
        "test_bench_runs_and_prints_the_table",
        "test_a_small_sweep_runs_every_step_and_the_approximate_neighbour_table",
    ),
    (
        '"benchmarks/run_bench.py"',
        '"--s3"',
        '"--repeat"',
        '"--integrations"',
        '"--no-compare"',
        '"--sweep"',
        '"--sweep-tokens"',
        '"--sweep-corpus"',
    ),
)
COMPOSE = Ref(
    "tests/compose/test_docker_compose.py", ("test_compose_file_validates_with_the_example_env_file",), ('"config"',)
)
UI_API = Ref(
    "tests/e2e/test_ui_browser.py",
    ("test_every_route_wants_a_login_and_read_access", "test_neighbours_and_similarity_json_match_the_published_files"),
    ("/auth/token", "/word2vec/api/versions/latest/similarity", "/neighbours", "/word2vec/api/versions"),
)
MLFLOW_MIRROR = Ref(
    "tests/e2e/test_mlflow_mirror.py",
    ("test_runs_versions_and_aliases_are_mirrored_and_mlflow_down_costs_seconds",),
    ('"make", "-s", "mlflow"', 'setenv("MLFLOW_TRACKING_URI"'),
)
NEIGHBOUR_LOAD = Ref(
    "tests/benchmarks/test_neighbour_load.py",
    ("test_neighbour_load_benchmark_runs_against_a_real_api_server",),
    ('"benchmarks/neighbour_load.py"', '"--kinds"', '"--clients"', '"--seconds"', '"--server-workers"'),
)
HOSTILE_LOAD = Ref(
    "tests/benchmarks/test_hostile_load.py",
    ("test_a_million_word_model_under_32_clients_while_its_alias_moves",),
    (
        '"benchmarks/neighbour_load.py"',
        '"--index-from-centres"',
        '"--versions"',
        '"--move-alias"',
        '"--pool-words"',
        '"--similarity-every"',
        '"--memory-mb"',
    ),
)

SIDE_BY_SIDE = Ref(
    "tests/benchmarks/test_bench_smoke.py",
    ("test_the_side_by_side_script_runs_the_steps_both_ways",),
    (
        '"benchmarks/corpus.py"',
        '"benchmarks/steps.py", "tokenize"',
        '"benchmarks/steps.py", "train"',
        '"benchmarks/side_by_side.py"',
        '"--steps"',
    ),
)

RUN = [
    Rule(r"(?:\.venv/bin/)?python -m include\.(?:serving\.)?cli(?: .*)?|include\.cli(?: .*)?", "run", how="cli"),
    Rule(r"make (?:test|unit|lint)", "run", how="make -n"),
    Rule(r"make airflow-(?:status|stop)", "run", how="shell"),
    Rule(r'python -c "import tensorflow"', "run", how="shell"),
    Rule(r"\.venv/bin/python scripts/s3_server\.py \w+", "run", how="server"),
]
TESTED = [
    Rule(r"make run(?: CONF='.*'| PYTHON=\S+)?", "tested", refs=(MAKE_RUN,), make_n=("scripts/run_dag.py --conf",)),
    Rule(r"scripts/run(?: '.*')?", "tested", refs=(SCRIPTS_RUN,)),
    Rule(
        r"\.venv/bin/python scripts/run_dag\.py --conf JSON",
        "tested",
        refs=(
            Ref(
                "tests/e2e/test_named_models_story.py",
                ("test_named_models_and_a_gate_that_cannot_be_fooled",),
                ("from scripts.run_dag import main",),
            ),
        ),
    ),
    Rule(
        r"EMBEDDINGS_CORPUS_ROOTS=\S+ make run CONF='.*'",
        "tested",
        refs=(
            MAKE_RUN,
            Ref(
                "tests/unit/test_paths.py",
                ("test_corpus_roots_variable_allows_several_folders",),
                ("EMBEDDINGS_CORPUS_ROOTS",),
            ),
            Ref("tests/storage/test_corpus_from_object_storage.py", (), ("EMBEDDINGS_CORPUS_ROOTS",)),
        ),
    ),
    Rule(r"export (?:EMBEDDINGS_DATA_DIR=s3://\S+|AWS_\w+=.*)", "tested", refs=(S3_RUN,)),
    Rule(
        r"AIRFLOW__OPENLINEAGE__TRANSPORT='\{\"type\": \"file\".*\}' make run",
        "tested",
        refs=(LINEAGE_RUN,),
        make_n=("scripts/run_dag.py --conf",),
    ),
    Rule(r"export AIRFLOW__OPENLINEAGE__NAMESPACE=\S+", "tested", refs=(LINEAGE_RUN,)),
    Rule(r"make airflow", "tested", refs=(LOCAL_AIRFLOW,), make_n=("scripts/airflow_local.py start",)),
    Rule(r"scripts/airflow_local\.py start", "tested", refs=(LOCAL_AIRFLOW,)),
    Rule(
        r"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql://\S+ make airflow",
        "tested",
        refs=(AIRFLOW_LOCAL, POSTGRES_AIRFLOW, POSTGRES_URL),
    ),
    Rule(
        r"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql://\S+ AIRFLOW__CORE__EXECUTOR=CeleryExecutor "
        r"AIRFLOW_CELERY_WORKERS=2 make airflow",
        "tested",
        refs=(AIRFLOW_LOCAL, POSTGRES_URL, CELERY_CLUSTER, CELERY_WORKERS),
    ),
    Rule(
        r"airflow db migrate|airflow pools set|airflow <component>",
        "tested",
        refs=(AIRFLOW_LOCAL, LOCAL_AIRFLOW),
    ),
    Rule(r"airflow celery worker", "tested", refs=(AIRFLOW_LOCAL, CELERY_CLUSTER, CELERY_WORKERS)),
    Rule(
        r"airflow backfill create(?: --dag-id word2vec_embeddings --from-date \S+ --to-date \S+)?",
        "tested",
        refs=(BACKFILL,),
    ),
    Rule(
        r"airflow dags test",
        "tested",
        refs=(
            Ref(
                "tests/integration/test_fault_concurrent_runs.py",
                ("test_two_runs_of_the_same_interval_at_once_publish_one_whole_version",),
                ('"dags", "test"',),
            ),
        ),
    ),
    Rule(r"make bench", "tested", refs=(BENCH,), make_n=("benchmarks/run_bench.py",)),
    Rule(r"\.venv/bin/python benchmarks/run_bench\.py .*", "tested", refs=(BENCH,)),
    Rule(
        r"\.venv/bin/python benchmarks/neighbour_load\.py(?! .*--move-alias)(?: .*)?", "tested", refs=(NEIGHBOUR_LOAD,)
    ),
    Rule(r"\.venv/bin/python benchmarks/neighbour_load\.py .*--move-alias .*", "tested", refs=(HOSTILE_LOAD,)),
    Rule(r"\.venv/bin/python benchmarks/corpus\.py \S+ \d+ \d+ \d+ \d+", "tested", refs=(SIDE_BY_SIDE,)),
    Rule(r"\.venv/bin/python benchmarks/steps\.py (?:tokenize|train|floor) \S+ \d+", "tested", refs=(SIDE_BY_SIDE,)),
    Rule(r"\.venv/bin/python benchmarks/side_by_side\.py \S+(?: --steps [\w,]+)?", "tested", refs=(SIDE_BY_SIDE,)),
    Rule(r"docker-compose config", "tested", refs=(COMPOSE,)),
    Rule(r"(?:TOKEN=\$\()?curl .*", "tested", refs=(UI_API,)),
    Rule(r"make mlflow(?: MLFLOW_PORT=\d+)?", "tested", refs=(MLFLOW_MIRROR,), make_n=("mlflow server",)),
    Rule(r"export MLFLOW_TRACKING_URI=http://127\.0\.0\.1:\d+", "tested", refs=(MLFLOW_MIRROR,)),
]
MANUAL = [
    Rule(
        r"docker compose .*",
        "manual",
        why="no Docker engine runs on the development machines; the compose file is rendered by "
        "docker-compose config in tests/compose, and the services and profiles named here are checked",
        refs=(COMPOSE,),
    ),
    Rule(
        r"cp \.env\.example \.env",
        "manual",
        why="writes the deployment's secrets file into the clone; .env.example is checked to exist",
    ),
    Rule(
        r"psql -h 127\.0\.0\.1 -U postgres -c 'CREATE DATABASE airflow'",
        "manual",
        why="creates a database on the machine's shared PostgreSQL; the integration tests create one "
        "of their own per test the same way",
        refs=(CREATE_DATABASE,),
    ),
    Rule(
        r"cp -a|rsync -a|aws s3 sync .*",
        "manual",
        why="a backup of someone's data root with general tools, shown as examples",
    ),
    Rule(
        r"(?:AIRFLOW__CORE__EXECUTOR=CeleryExecutor )?airflow standalone",
        "manual",
        why="Airflow's own launcher, which docs/architecture.md measured and does not use (it runs in "
        "the foreground until Ctrl-C and forces the LocalExecutor)",
    ),
    Rule(
        r"export AIRFLOW__OPENLINEAGE__TRANSPORT='\{\"type\": \"http\".*\}'",
        "manual",
        why="sends the events to a Marquez server, which is a Docker image of its own not run here; the "
        "same variable with the file transport is set by the lineage test, which reads the events back",
        refs=(LINEAGE_RUN,),
    ),
    Rule(r"pip freeze", "manual", why="how constraints.txt was made (the full lock); it is checked to exist"),
    Rule(
        r"\.venv/bin/python -m pytest -q -n 3 --dist loadscope --no-loadscope-reorder tests"
        r"|pytest -n 3 --dist loadscope --no-loadscope-reorder",
        "manual",
        why="the whole suite cannot run inside itself; make -n test is checked to run exactly this",
        make_n=("-m pytest -q -n 3 --dist loadscope --no-loadscope-reorder tests",),
    ),
    Rule(
        r"\.venv/bin/python benchmarks/keras_memory\.py \d+",
        "manual",
        why="builds four Keras models of a 1M x 100 matrix (minutes, GBs); its options are checked with --help",
    ),
]
RULES = RUN + TESTED + MANUAL
#: Code spans that look like commands but are not ones (each must still occur, so this cannot go stale).
NOT_COMMANDS = {
    "docker-compose": "the Debian package's name",
    "make run / gensim training alone … make run = N.NNx": "a line make bench prints",
}


def rules_of(command: DocCommand) -> list[Rule]:
    return [rule for rule in RULES if re.fullmatch(rule.pattern, command.command)]


def _param(command: DocCommand):
    return pytest.param(command, id=command.id)


def run_in(env: dict, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def check_output(command: DocCommand, stdout: str) -> None:
    for shown in command.output:
        assert output_pattern(shown).search(stdout), (
            f"{command.doc}:{command.line}: shows {shown!r} under {command.command!r}, "
            f"but it printed:\n{stdout[-2000:]}"
        )


def run_cli(command: DocCommand, env: dict) -> None:
    text = re.sub(r"^(?:\.venv/bin/)?python -m ", "", command.command)
    module, _, rest = text.partition(" ")
    args = [PLACEHOLDERS.get(arg, arg) for arg in shlex.split(rest)]
    subcommand = next((arg for arg in args if not arg.startswith("-")), None)
    placeholder = any("…" in arg or arg == "..." for arg in args)
    if placeholder or subcommand is None or args == ["promote"]:
        # a mention of the CLI or a form with placeholders: its subcommand and options must exist
        argv = [subcommand, "--help"] if subcommand else ["--help"]
        done = run_in(env, [PY, "-m", module, *argv])
        assert done.returncode == 0, done.stderr
        for option in (arg for arg in args if arg.startswith("--")):
            assert option in done.stdout, f"{command.id}: {option} is not an option of {module} {subcommand}"
        return
    done = run_in(env, [PY, "-m", module, *args])
    assert done.returncode == 0, f"{command.id} exited {done.returncode}:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
    check_output(command, done.stdout)


def run_make_dry(command: DocCommand, env: dict) -> None:
    done = run_in(env, ["make", "-n", *shlex.split(command.command)[1:]])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), f"make -n {command.command[5:]} prints no recipe"


def run_shell(command: DocCommand, env: dict) -> None:
    done = run_in(env, ["bash", "-c", command.command], timeout=300)
    assert done.returncode == 0, f"{command.id} exited {done.returncode}:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
    check_output(command, done.stdout)


def run_server(command: DocCommand, env: dict) -> None:
    """A command that serves until Ctrl-C: its first line of output, then SIGINT, and exit 0."""
    server = subprocess.Popen(
        ["bash", "-c", "exec " + command.command],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal: a suite started in the background (`make test &`, a CI runner's
        # job) inherits SIGINT ignored, and Python then never turns it into KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        first = server.stdout.readline()  # type: ignore[union-attr]
        time.sleep(1)  # a person reads the line before pressing Ctrl-C
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(timeout=60)
    assert code == 0, f"{command.id} exited {code} on Ctrl-C"
    check_output(command, first)


RUNNERS = {"cli": run_cli, "make -n": run_make_dry, "shell": run_shell, "server": run_server}


def test_every_command_of_the_docs_is_found():
    """The extraction itself: each doc with commands gives some, and the ones this file was written
    against are among them."""
    found = {(c.doc, c.command) for c in COMMANDS}
    assert ("README.md", "make run") in found
    assert ("docs/operations.md", "make airflow-status") in found
    backfill = "airflow backfill create --dag-id word2vec_embeddings --from-date 2026-11-01 --to-date 2026-11-03"
    assert ("docs/user-guide.md", backfill) in found
    tokens = next(c for c in COMMANDS if c.command.startswith(".venv/bin/python -m include.cli tokens"))
    assert tokens.output == ("prime_minister john howard flew to the united_states",)


@pytest.mark.parametrize("command", [_param(c) for c in COMMANDS if c.command not in NOT_COMMANDS])
def test_command_falls_in_exactly_one_class(command):
    matched = rules_of(command)
    assert matched, (
        f"{command.doc}:{command.line}: {command.command!r} is in no class of tests/docs/test_doc_commands.py: "
        "run it there (RUN), name the test that runs it (TESTED), or say why it cannot run (MANUAL)"
    )
    assert len(matched) == 1, f"{command.id} matches several rules: {[r.pattern for r in matched]}"


def test_every_rule_and_exception_still_matches_a_command():
    texts = {c.command for c in COMMANDS}
    stale = [rule.pattern for rule in RULES if not any(re.fullmatch(rule.pattern, text) for text in texts)]
    stale += [text for text in NOT_COMMANDS if text not in texts]
    assert not stale, f"rules or exceptions for commands the docs no longer show: {stale}"


def _of_kind(kind: str) -> list:
    return [_param(c) for c in COMMANDS if len(rules_of(c)) == 1 and rules_of(c)[0].kind == kind]


@pytest.mark.parametrize("command", _of_kind("run"))
def test_cheap_command_runs_here(command, docs_env):
    key = (command.command, command.output)
    if key in _RAN:  # the same command with the same shown output, elsewhere in the docs
        return
    RUNNERS[rules_of(command)[0].how](command, docs_env)
    _RAN.add(key)


#: commands (and their shown output) this process has already run and checked
_RAN: set[tuple[str, tuple[str, ...]]] = set()


@cache
def _source(path: str) -> str:
    return (PROJECT_ROOT / path).read_text(encoding="utf-8")


def check_refs(command: DocCommand, refs: tuple[Ref, ...]) -> None:
    for ref in refs:
        assert (PROJECT_ROOT / ref.path).is_file(), f"{command.id}: {ref.path}, which runs it, is gone"
        source = _source(ref.path)
        for test in ref.tests:
            assert re.search(rf"^def {test}\(", source, re.M), f"{command.id}: {ref.path}::{test} is gone"
        for needle in ref.needles:
            assert needle in source, f"{command.id}: {ref.path} no longer holds {needle!r}"


@cache
def _make_n(args: tuple[str, ...]) -> str:
    done = subprocess.run(["make", "-n", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def check_make_n(command: DocCommand, rule: Rule) -> None:
    if not rule.make_n:
        return
    words = shlex.split(command.command)
    args = tuple(words[words.index("make") + 1 :]) if "make" in words else ("test",)
    printed = _make_n(args)
    for expected in rule.make_n:
        assert expected in printed, f"{command.id}: make -n {' '.join(args)} no longer runs {expected!r}:\n{printed}"


@pytest.mark.parametrize("command", _of_kind("tested"))
def test_expensive_command_is_run_by_a_named_test(command):
    rule = rules_of(command)[0]
    check_refs(command, rule.refs)
    check_make_n(command, rule)
    if command.command.startswith(".venv/bin/python benchmarks/run_bench.py"):
        check_options(command, [PY, "benchmarks/run_bench.py", "--help"])
    if command.command.startswith(".venv/bin/python benchmarks/neighbour_load.py"):
        check_options(command, [PY, "benchmarks/neighbour_load.py", "--help"])
    if command.command.startswith(".venv/bin/python benchmarks/side_by_side.py"):
        check_options(command, [PY, "benchmarks/side_by_side.py", "--help"])


def check_options(command: DocCommand, help_argv: list[str]) -> None:
    done = subprocess.run(help_argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for option in re.findall(r"(?<!\S)--[\w-]+", command.command):
        assert option in done.stdout, f"{command.id}: {option} is not an option of {help_argv[1]}"


def _compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("command", _of_kind("manual"))
def test_command_that_cannot_run_here_says_why_and_is_checked(command):
    rule = rules_of(command)[0]
    assert len(rule.why) > 20, f"{command.id}: say why it cannot run here"
    check_refs(command, rule.refs)
    check_make_n(command, rule)
    text = command.command
    if text.startswith("docker compose"):
        services = _compose()["services"]
        profiles = {p for s in services.values() for p in s.get("profiles", [])}
        for name in re.findall(r"\b(airflow-[\w-]+)", text):
            assert name in services, f"{command.id}: no service {name} in docker-compose.yaml"
        for name in re.findall(r"--profile (\S+)", text):
            assert name in profiles, f"{command.id}: no profile {name} in docker-compose.yaml"
    if ".env.example" in text:
        assert "change-me" in (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    if text == "pip freeze":
        assert (PROJECT_ROOT / "constraints.txt").is_file()
    if "keras_memory.py" in text:
        check_options(command, [PY, "benchmarks/keras_memory.py", "--help"])


# --- what the commands pass in: CONF values and environment variables ---------------------------

CONFS = [
    (c, match.group(1))
    for c in COMMANDS
    for match in [re.search(r"(?:CONF=|scripts/run )'(\{.*\})'", c.command)]
    if match and "…" not in match.group(1)
]


@pytest.fixture(scope="module")
def dag_params():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["word2vec_embeddings"].params


@pytest.mark.parametrize(("command", "conf"), [pytest.param(c, conf, id=c.id) for c, conf in CONFS])
def test_documented_conf_is_accepted_by_the_dag(command, conf, dag_params):
    """A CONF the docs show is a JSON object of the DAG's Params, each within its schema, that the
    library's cross-field checks accept (what the run would check before any task)."""
    from include.steps.run_conf import check_params

    values = json.loads(conf)
    unknown = set(values) - set(dag_params.keys())
    assert not unknown, f"{command.id}: not Params of word2vec_embeddings: {unknown}"
    for name, value in values.items():
        dag_params.get_param(name).resolve(value)
    check_params(values)


ENV_VARIABLE = re.compile(r"(?<![\w$])((?:EMBEDDINGS|AIRFLOW)_[A-Z0-9_]*[A-Z0-9])=")


@cache
def _code_text() -> str:
    paths = [*PROJECT_ROOT.glob("include/**/*.py"), *PROJECT_ROOT.glob("scripts/*"), *PROJECT_ROOT.glob("plugins/*.py")]
    paths += [*PROJECT_ROOT.glob("dags/*.py"), PROJECT_ROOT / "Makefile", PROJECT_ROOT / "docker-compose.yaml"]
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in paths if p.is_file())


@pytest.mark.parametrize("command", [_param(c) for c in COMMANDS if ENV_VARIABLE.search(c.command)])
def test_environment_variables_a_command_sets_are_read_by_the_code(command):
    """``EMBEDDINGS_*`` and ``AIRFLOW_*`` settings a command sets are ones the project reads
    (``AIRFLOW__SECTION__KEY`` are Airflow's own configuration and are left to Airflow)."""
    for name in ENV_VARIABLE.findall(command.command):
        if name.startswith("AIRFLOW__"):
            continue
        assert name in _code_text(), f"{command.id}: nothing in the project reads {name}"


if __name__ == "__main__":  # list the classes: python -m tests.docs.test_doc_commands
    for rule_kind in ("run", "tested", "manual"):
        print(f"[{rule_kind}]")
        for c in COMMANDS:
            if c.command not in NOT_COMMANDS and [r.kind for r in rules_of(c)] == [rule_kind]:
                print(f"  {c.doc}:{c.line}  {c.command}")
