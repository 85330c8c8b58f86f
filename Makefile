# midlayout — every target installs what it needs on first use (.venv is their shared prerequisite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out

.PHONY: install demo test docs-check lint format typecheck bench fuzz clean

$(VENV)/.installed: pyproject.toml examples/midlayout-example-writer/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,postgres,dask]"
	$(BIN)/pip install --quiet -e examples/midlayout-example-writer
	touch $@

install: $(VENV)/.installed

# The main job on the bundled samples, into the embedded targets (Parquet + DuckDB + the standard CSV).
# Exit code 1 from convert means "rejects found", which the samples contain on purpose.
demo: install
	@echo "== A社 (fixed-width CP932): 住民基本台帳 + 個人住民税 =="
	$(BIN)/midlayout convert -m mappings/vendor_a/juki-2.5.yaml -m mappings/vendor_a/kojin_juminzei-2.5.yaml \
	  samples/vendor_a/JUMIN.DAT samples/vendor_a/SETAI.DAT samples/vendor_a/ZEI.DAT --out $(OUT)/vendor_a; \
	  test $$? -le 1
	@echo "== B社 (CSV UTF-8 BOM): 住民基本台帳 =="
	$(BIN)/midlayout convert -m mappings/vendor_b/juki-2.5.yaml \
	  samples/vendor_b/person.csv samples/vendor_b/household.csv --out $(OUT)/vendor_b; \
	  test $$? -le 1
	@echo "== 中間標準レイアウト delivery (A社's standard CSV) → 基本データリスト (illustrative kihon family) =="
	$(BIN)/midlayout convert -m mappings/standard/juki-2.5-to-kihon-2.1.yaml \
	  -m mappings/standard/kojin_juminzei-2.5-to-kihon-2.1.yaml \
	  $(OUT)/vendor_a/standard/juki/jumin.csv $(OUT)/vendor_a/standard/juki/setai.csv \
	  $(OUT)/vendor_a/standard/kojin_juminzei/kazei.csv --out $(OUT)/kihon; \
	  test $$? -le 1
	$(BIN)/midlayout reconcile $(OUT)/kihon/manifest.json --out $(OUT)/kihon > /dev/null && \
	  echo "reconcile 中間標準 ↔ 基本データリスト: PASS (certificate: $(OUT)/kihon/reconcile.html)"
	@echo "Outputs: $(OUT)/vendor_a, $(OUT)/vendor_b and $(OUT)/kihon (parquet/, standard/, midlayout.duckdb, rejects.*, manifest.json)"

test: install
	$(BIN)/pytest

# Every runnable block of the READMEs and docs/ (also part of `make test`).
docs-check: install
	$(BIN)/pytest tests/test_docs_run.py tests/test_docs.py

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

typecheck: install
	$(BIN)/mypy src

# Sizes: MIDLAYOUT_BENCH_HOUSEHOLDS, MIDLAYOUT_BENCH_ROWS (diff), MIDLAYOUT_BENCH_BIG_GB=4 (opt-in RSS case).
bench: install
	$(BIN)/pip install --quiet -e ".[dev,postgres,bench]"
	$(BIN)/python benchmarks/run.py

# Mutated samples through `convert` (tests/fuzz_convert.py): thousands of cases; CI runs 120 of them.
FUZZ_CASES ?= 3000
fuzz: install
	MIDLAYOUT_FUZZ_CASES=$(FUZZ_CASES) $(BIN)/pytest -q -p no:cacheprovider tests/test_broken_extracts.py -k fuzz

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache .mypy_cache
