# topoprune: `make demo` and `make test` work on a fresh machine (they create .venv first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= demo-out

.PHONY: install test bench demo clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) bench/topology_bench.py

demo: install
	$(VENV)/bin/topo sweep --design aspl --nodes 64 --degrees 4,8 --count 8 --out $(DEMO_OUT)/plans
	$(VENV)/bin/topo sweep --design graph2nn --nodes 64 --samples 600 --bins 8 --out $(DEMO_OUT)/plans --format csv > /dev/null
	$(VENV)/bin/topo analyze $(DEMO_OUT)/plans --out $(DEMO_OUT)/metrics-all.csv
	$(VENV)/bin/topo show $(DEMO_OUT)/plans/swap-chain_n64_d4_s0_00.npy --out $(DEMO_OUT)/ring-lattice.png
	$(VENV)/bin/topo show $(DEMO_OUT)/plans/swap-chain_n64_d4_s0_07.npy --out $(DEMO_OUT)/low-aspl.png
	@echo "demo outputs in $(DEMO_OUT)/ (plans, metrics-all.csv, ring-lattice.png, low-aspl.png)"

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .hypothesis
