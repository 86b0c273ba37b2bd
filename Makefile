# Two commands: `make run` (the pipeline once, on the default corpus) and `make test` (everything).
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(CURDIR)
PYTHON ?= python3.11
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
CONF ?= {}

export AIRFLOW_HOME ?= $(ROOT)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(ROOT)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(ROOT)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export PYTHONPATH := $(ROOT)$(if $(PYTHONPATH),:$(PYTHONPATH))
export TF_CPP_MIN_LOG_LEVEL ?= 2
export KERAS_BACKEND := tensorflow

.PHONY: help venv airflow-db run run-env test unit lint format test-deps clean airflow airflow-stop airflow-status bench \
	mlflow mlflow-venv

help:
	@echo "make run [CONF='{\"epochs\": 10}']  run word2vec_embeddings once on the default corpus"
	@echo "scripts/run ['{\"epochs\": 10}']     the same, exiting 0/1/2/3 as the README says (make turns failures into 2)"
	@echo "make test                          install test dependencies, run the whole suite"
	@echo "make unit                          fast unit tests of include/ while you work"
	@echo "make lint | format                 ruff and mypy: check the style and types (part of make test) | fix the style"
	@echo "make bench [BENCH_TOKENS=10000000]  each step against the plain recipe, same corpus, same run;"
	@echo "           [BENCH_SWEEP=10000,100000,1000000]  then the vocabulary sweep (BENCH_SWEEP= skips it)"
	@echo "           [BENCH_SWEEP_CORPUS=1000000,50000000]  and corpus sizes at 100k words (BENCH_SWEEP_CORPUS= skips them)"
	@echo "make airflow | airflow-stop | airflow-status   local Airflow with the UI on :8080 (AIRFLOW_PORT)"
	@echo "make mlflow [MLFLOW_PORT=5000]       a local MLflow server and UI; runs mirror to it with MLFLOW_TRACKING_URI set"

$(VENV)/.installed: requirements.txt requirements-test.txt constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-test.txt -c constraints.txt
	touch $@

venv: $(VENV)/.installed

$(AIRFLOW_HOME)/.migrated: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME)
	$(VENV)/bin/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || { cat $(AIRFLOW_HOME)/db-migrate.log; exit 1; }
	touch $@

airflow-db: $(AIRFLOW_HOME)/.migrated

# make exits 2 whenever the run fails; scripts/run gives the run's own code (1 failed, 2 bad CONF, 3 rejected)
run: airflow-db
	$(PY) scripts/run_dag.py --conf '$(CONF)'

# The environment make's recipes get, one VAR=value a line: scripts/run exports it, then runs run_dag.py itself.
run-env:
	@env | grep -E '^(AIRFLOW_HOME|AIRFLOW__[A-Z_]+|PYTHONPATH|TF_CPP_MIN_LOG_LEVEL|KERAS_BACKEND)=' | sort

# Debian packages the tests use: a compose parser, and a browser with its driver for the report page.
TEST_APT_PACKAGES := docker-compose chromium chromium-driver
test-deps:
	@missing=""; for p in $(TEST_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

# The full MLflow server, in a venv of its own: the project itself installs only the client,
# mlflow-skinny (requirements.txt), whose version the server's follows; constraints-mlflow-server.txt
# locks the server's other packages (a pip freeze of this venv).
MLFLOW_VERSION := $(shell sed -n 's/^mlflow-skinny==//p' $(ROOT)/requirements.txt)
MLFLOW_VENV := $(ROOT)/.mlflow-venv
MLFLOW_PORT ?= 5000
MLFLOW_HOME ?= $(ROOT)/.mlflow
$(MLFLOW_VENV)/.installed-$(MLFLOW_VERSION): constraints-mlflow-server.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	test -x $(MLFLOW_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(MLFLOW_VENV)/bin/python -m pip install --quiet "mlflow==$(MLFLOW_VERSION)" -c constraints-mlflow-server.txt
	rm -f $(MLFLOW_VENV)/.installed-*
	touch $@

mlflow-venv: $(MLFLOW_VENV)/.installed-$(MLFLOW_VERSION)

# In the foreground until Ctrl-C: runs, registered models and aliases in $(MLFLOW_HOME) (SQLite and a folder).
# No usage telemetry, and no job runner (MLflow's GenAI jobs: six more processes this project never uses).
mlflow: mlflow-venv
	mkdir -p $(MLFLOW_HOME)
	MLFLOW_DISABLE_TELEMETRY=true MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
	  $(MLFLOW_VENV)/bin/mlflow server --host 127.0.0.1 --port $(MLFLOW_PORT) --workers 1 \
	  --backend-store-uri sqlite:///$(MLFLOW_HOME)/mlflow.db --artifacts-destination $(MLFLOW_HOME)/artifacts

unit: venv
	$(PY) -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder tests/unit

# ruff (configured in pyproject.toml) holds the style: lint and format are checked by make test;
# mypy ([tool.mypy] in pyproject.toml) checks the types of include/, plugins/ and dags/.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: venv test-deps mlflow-venv lint
	$(PY) -m pytest -q -n 3 --dist loadscope --no-loadscope-reorder tests

clean:
	rm -rf $(AIRFLOW_HOME) $(VENV) $(MLFLOW_VENV)

airflow: venv
	$(PY) scripts/airflow_local.py start

airflow-stop:
	$(PY) scripts/airflow_local.py stop

airflow-status:
	$(PY) scripts/airflow_local.py status

BENCH_TOKENS ?= 10000000
BENCH_VOCAB ?= 100000
BENCH_MEMORY_MB ?= 1000
# pairs of gensim's training alone and a first `make run`, one after the other: the median pair's ratio is reported
BENCH_REPEAT ?= 5
# pairs of make run with OpenLineage and MLflow installed but unconfigured / OpenLineage disabled
BENCH_INTEGRATIONS ?= 3
# the vocabulary sweep (empty: none); each size gets a corpus of BENCH_SWEEP_TOKENS tokens
BENCH_SWEEP ?= 10000,100000,1000000
BENCH_SWEEP_TOKENS ?= 10000000
# corpus sizes (tokens) for the sweep, each at BENCH_SWEEP_CORPUS_VOCAB words (empty: none)
BENCH_SWEEP_CORPUS ?= 1000000,50000000
BENCH_SWEEP_CORPUS_VOCAB ?= 100000
bench: venv
	$(PY) benchmarks/run_bench.py --tokens $(BENCH_TOKENS) --vocab $(BENCH_VOCAB) --memory-mb $(BENCH_MEMORY_MB) --s3 \
	  --repeat $(BENCH_REPEAT) --integrations $(BENCH_INTEGRATIONS) \
	  --sweep '$(BENCH_SWEEP)' --sweep-tokens $(BENCH_SWEEP_TOKENS) \
	  --sweep-corpus '$(BENCH_SWEEP_CORPUS)' --sweep-corpus-vocab $(BENCH_SWEEP_CORPUS_VOCAB)
