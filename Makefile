# Every target installs what it needs into ./.venv first (python3 >= 3.11 on PATH).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed

.PHONY: demo test lint peers bench-peers clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m experiments.run --config configs/flow2d.py:quick --workdir runs/demo

# every test file in its own pytest process, two at a time (tests/run_suite.py says why)
test: $(STAMP)
	$(PY) tests/run_suite.py

# the PyTorch peers (CPU torch, diffusers, torchcfm, k-diffusion) in their own venv, for benchmarks/
$(PEERS_STAMP): pyproject.toml benchmarks/requirements-peers.txt
	python3 -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install -q --upgrade pip
	$(PEERS)/bin/python -m pip install -q -e ".[test]" -r benchmarks/requirements-peers.txt
	$(PEERS)/bin/python -m pip install -q --no-deps k-diffusion==0.1.1.post1
	touch $(PEERS_STAMP)

peers: $(PEERS_STAMP)

bench-peers: $(PEERS_STAMP)
	$(PEERS)/bin/python -m benchmarks.report --out docs/benchmarks.md

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) $(PEERS) runs
