# Two commands on a fresh machine (Python 3.10+ and pip): `make demo`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

RUNTIME := $(VENV)/.installed-runtime

.PHONY: demo test lint bench bench-peers clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The demo needs only the engine's own dependencies (no compiler, no Java).
$(RUNTIME): pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e .
	touch $(RUNTIME)

$(STAMP): pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: $(RUNTIME)
	$(BIN)/incentives check examples/jinzhong-hightech.yaml --as-of 2026-11-24 --lang en --explain

lint: $(STAMP)
	$(BIN)/ruff check engine cli service incentives tests $(wildcard benchmarks)
	$(BIN)/mypy

# The whole suite on every core (pytest-xdist); the README's test command, and CI's.
PYTEST_ARGS ?= -n auto --dist worksteal

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

# The engine beside other Python rule engines on one rule; installs them (pinned) into a venv
# of their own, $(VENV)-peers, on the first run. Optional: not part of the tests or CI.
bench-peers: $(STAMP)
	$(BIN)/python -m benchmarks.bench_peers --venv $(VENV)-peers $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(VENV)-peers build *.egg-info .pytest_cache .mypy_cache .ruff_cache
