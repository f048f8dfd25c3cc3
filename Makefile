# topoprune: `make demo` and `make test` work on a fresh machine (they create .venv first).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= demo-out
COMPARE_OUT ?= demo-compare-out
FASHION_SYSTEM := /usr/share/datasets/fashion-mnist
# Demo training (why this design: docs/demo.md): graph2nn's MLP at one unit per plan node, 64 wide, 8 hidden
# layers, the stem masked too, 3 epochs, 3 seeds, 2 jobs.
DEMO_TRAIN ?= --model mlp --model-option depth=8 --model-option width=64 --prune-first --dataset fashion-mnist --epochs 3 --seeds 3 --jobs 2

# Equal-cost comparison: relational plans vs per-layer recipes at densities 1/16 and 1/8 of the masked layers.
COMPARE_TRAIN ?= --model mlp --model-option depth=8 --dataset fashion-mnist --epochs 3 --seeds 2 --jobs 2

# graph2nn at equal cost (measured time: docs/graph2nn.md): WS-flex plans over the clustering x path-length plane
# plus the complete graph, A + I, every MLP widened to the dense MLP's counted MACs.
G2NN_OUT ?= graph2nn-out
G2NN_TRAIN ?= --model mlp --model-option depth=4 --self-loops --match-macs dense --match-layers all --dataset fashion-mnist --epochs 1 --seeds 2 --jobs 2

# Shared filter bases (measured time: docs/shared-bases.md): ResNet-32 dense vs S8U1 vs S16U1*, the orthogonality
# regulariser on (lambda 10) and off, 3 epochs on the first 8,000 Fashion-MNIST training images, 3 seeds.
SHARED_OUT ?= shared-bases-out
SHARED_TRAIN ?= --dataset fashion-mnist --epochs 3 --max-train 8000 --seeds 3 --jobs 2
S8U1 := --model resnet32_shared --model-option shared_rank=8 --model-option unique_rank=1 --model-option bases=single
S16U1_DOUBLE := --model resnet32_shared --model-option shared_rank=16 --model-option unique_rank=1 --model-option bases=double

# X-Nets (measured time: docs/xnets.md): X-MobileNet-0.5 at e = 4 vs grouped pointwise convolutions at the same
# counted cost vs the dense MobileNet-0.5, 3 epochs on Fashion-MNIST, 3 seeds.
XNETS_OUT ?= xnets-out
XNETS_TRAIN ?= --model xmobilenet --dataset fashion-mnist --epochs 3 --seeds 3 --jobs 2

# EDropout on Fashion-MNIST (measured time: docs/edropout.md): the mlp's hidden and classifier inputs gated, 5 epochs, 3 seeds:
# dense, EDropout (pruned and unpruned evaluation) and random whole units at each EDropout run's kept counts.
# As docs/edropout.md's table was run: the gated layers fine-tuned after the freeze, the state free from epoch 3.
EDROPOUT_OUT ?= edropout-out
EDROPOUT_TRAIN ?= --model mlp --dataset fashion-mnist --epochs 5
EDROPOUT_SETTINGS ?= --edropout-after-freeze fine-tune --edropout-warmup 3
EDROPOUT_SEEDS ?= 0 1 2
# The same comparison on cResNet-18 at half width, the paper's 1,184 gated bits, 3 epochs on the first 6,000 images.
EDROPOUT_RESNET_OUT ?= edropout-resnet-out
EDROPOUT_RESNET_TRAIN ?= --model cresnet18 --model-option width=32 --dataset fashion-mnist --epochs 3 --max-train 6000
EDROPOUT_RESNET_SETTINGS ?= --edropout-after-freeze fine-tune --edropout-warmup 2 --edropout-coverage paper

.PHONY: install data test test-fast test-oldest lint bench bench-ten-million demo demo-plans demo-compare graph2nn-equal-cost shared-bases xnets-compare edropout-compare edropout-compare-resnet clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# Fashion-MNIST: Debian's package where apt exists (as root), else torchvision's download into ./data.
data: install
	@if [ -f $(FASHION_SYSTEM)/train-images-idx3-ubyte.gz ] || [ -f data/FashionMNIST/raw/train-images-idx3-ubyte.gz ]; then \
		echo "Fashion-MNIST: found"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -qq dataset-fashion-mnist || { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; }; \
	else \
		echo "Fashion-MNIST: downloading with torchvision into ./data"; \
		$(PY) -c "import torchvision; torchvision.datasets.FashionMNIST('data', download=True)"; \
	fi

test: install
	$(PY) -m pytest -q

# The suite without the tests marked slow (documented commands, executors, DDP, every recipe end to end).
test-fast: install
	$(PY) -m pytest -q -m "not slow"

# The oldest torch and torchvision pyproject.toml allows, in a venv of their own: the floor is tested, not claimed.
OLDEST_VENV ?= .venv-oldest
TORCH_FLOOR := $(shell sed -n 's/.*"torch>=\([0-9.]*\),.*/\1/p' pyproject.toml)
TORCHVISION_FLOOR := $(shell sed -n 's/.*"torchvision>=\([0-9.]*\),.*/\1/p' pyproject.toml)
OLDEST_STAMP := $(OLDEST_VENV)/.installed-stamp

$(OLDEST_STAMP): pyproject.toml
	@test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet -e '.[test]' 'torch==$(TORCH_FLOOR).*' 'torchvision==$(TORCHVISION_FLOOR).*'
	@touch $(OLDEST_STAMP)

test-oldest: $(OLDEST_STAMP)
	$(OLDEST_VENV)/bin/python -c "import torch, torchvision; print('oldest supported: torch', torch.__version__, 'torchvision', torchvision.__version__)"
	$(OLDEST_VENV)/bin/python -m pytest -q --ignore tests/test_docs.py  # the documented commands run once, in make test

# ruff (pyproject.toml: import order, line length 120, pycodestyle, pyflakes, bugbear); CI runs it.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every bench with its time budget and a progress line, then one table of every figure against its goal.
bench: install
	$(PY) bench/run_all.py

# A random 8-regular graph of 10^7 nodes: generate, the four triangle and spectral metrics, sampled
# paths, against 10 minutes and 8 GB (not part of make bench: it takes most of its 10 minutes).
bench-ten-million: install
	$(PY) bench/large_graph_bench.py --exact "" --sampled 10000000 --no-network --no-coverage

demo-plans: install
	for d in 4 8 16; do $(BIN)/topo gen -g swap-chain -n 64 -d $$d --count 7 --out $(DEMO_OUT)/plans -q --format csv > /dev/null || exit 1; done
	$(BIN)/topo analyze $(DEMO_OUT)/plans -m aspl,clustering,spectral_gap,density

# The main job: plans spanning the metrics -> trained masked MLPs on Fashion-MNIST -> report.
demo: data demo-plans
	$(BIN)/train sweep --plans $(DEMO_OUT)/plans $(DEMO_TRAIN) --out $(DEMO_OUT)/runs
	$(BIN)/report $(DEMO_OUT)/runs/results.csv --out $(DEMO_OUT)/report --check-against docs/runs/demo/results.csv

# Which wiring wins at equal cost: X-Net vs random-regular vs random bipartite layers vs relational plans.
demo-compare: data
	$(BIN)/topo gen -g rreg -n 64 -d 4 --out $(COMPARE_OUT)/plans -q --format csv > /dev/null
	$(BIN)/topo gen -g rreg -n 64 -d 8 --out $(COMPARE_OUT)/plans -q --format csv > /dev/null
	$(BIN)/train sweep --plans $(COMPARE_OUT)/plans --recipes xnet,rreg-bipartite,random-bipartite --degrees 32,64 $(COMPARE_TRAIN) --out $(COMPARE_OUT)/runs
	$(BIN)/report $(COMPARE_OUT)/runs/results.csv --out $(COMPARE_OUT)/report

graph2nn-equal-cost: data
	$(BIN)/topo sweep --design graph2nn --nodes 64 --bins 6 --out $(G2NN_OUT)/plans --format csv > /dev/null
	$(BIN)/topo gen -g complete -n 64 --out $(G2NN_OUT)/plans/complete -q --format csv > /dev/null
	$(BIN)/train sweep --plans $(G2NN_OUT)/plans $(G2NN_TRAIN) --out $(G2NN_OUT)/runs
	$(BIN)/report $(G2NN_OUT)/runs/results.csv --out $(G2NN_OUT)/report

shared-bases: data
	$(BIN)/train sweep --model resnet32 $(SHARED_TRAIN) --out $(SHARED_OUT)/runs
	$(BIN)/train sweep $(S8U1) --orth-lambda 10 $(SHARED_TRAIN) --out $(SHARED_OUT)/runs
	$(BIN)/train sweep $(S8U1) --orth-lambda 0 $(SHARED_TRAIN) --out $(SHARED_OUT)/runs
	$(BIN)/train sweep $(S16U1_DOUBLE) --orth-lambda 10 $(SHARED_TRAIN) --out $(SHARED_OUT)/runs
	$(BIN)/train sweep $(S16U1_DOUBLE) --orth-lambda 0 $(SHARED_TRAIN) --out $(SHARED_OUT)/runs
	$(BIN)/report $(SHARED_OUT)/runs/results.csv --out $(SHARED_OUT)/report

xnets-compare: data
	$(BIN)/train sweep $(XNETS_TRAIN) --model-option expand=4 --out $(XNETS_OUT)/runs
	$(BIN)/train sweep $(XNETS_TRAIN) --model-option expand=4 --model-option pointwise=grouped --out $(XNETS_OUT)/runs
	$(BIN)/train sweep $(XNETS_TRAIN) --model-option expand=1 --recipe dense --out $(XNETS_OUT)/runs
	$(BIN)/report $(XNETS_OUT)/runs/results.csv --out $(XNETS_OUT)/report

clean:
	rm -rf $(DEMO_OUT) $(COMPARE_OUT) $(G2NN_OUT) $(SHARED_OUT) $(XNETS_OUT) $(EDROPOUT_OUT) $(EDROPOUT_RESNET_OUT) .pytest_cache .hypothesis

edropout-compare: data
	@for seed in $(EDROPOUT_SEEDS); do \
		$(BIN)/train $(EDROPOUT_TRAIN) --recipe dense --seed $$seed --out $(EDROPOUT_OUT)/runs > /dev/null || exit 1; \
		run=$$($(BIN)/train $(EDROPOUT_TRAIN) $(EDROPOUT_SETTINGS) --recipe edropout --seed $$seed --out $(EDROPOUT_OUT)/runs | sed -n 's/^run directory: //p'); \
		test -n "$$run" || exit 1; \
		$(BIN)/train $(EDROPOUT_TRAIN) --recipe random-filters --like $$run --seed $$seed --out $(EDROPOUT_OUT)/runs > /dev/null || exit 1; \
	done
	$(PY) -c "import pandas as pd; t = pd.read_csv('$(EDROPOUT_OUT)/runs/results.csv'); \
		print(t.groupby('recipe')[['best_acc', 'final_acc', 'best_acc_no_pruning', 'final_acc_no_pruning', 'density', 'params_kept', 'macs_kept', 'edropout_paper_r', 'edropout_units_kept', 'edropout_frozen_epoch', 'edropout_frozen_step']].agg(['mean', 'std']).T.to_string())"
	$(BIN)/report $(EDROPOUT_OUT)/runs/results.csv --out $(EDROPOUT_OUT)/report --pair-recipes random-filters

edropout-compare-resnet:
	$(MAKE) edropout-compare EDROPOUT_OUT=$(EDROPOUT_RESNET_OUT) EDROPOUT_TRAIN="$(EDROPOUT_RESNET_TRAIN)" \
		EDROPOUT_SETTINGS="$(EDROPOUT_RESNET_SETTINGS)"
