# TrustLedger — the two commands: `make up` and `make test`. Both install what they need, idempotently.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODE_DIR := hardhat-local
STAMP_PY := $(VENV)/.installed
STAMP_NODE := $(NODE_DIR)/node_modules/.installed

# The chain suites that depend on how a live node behaves over JSON-RPC (mining, receipts, nonces, eth_getLogs,
# code and block reads, snapshots) run again on a Hardhat 2 node. The contract-logic suites (roles, disputes,
# certificates, governance, trust, product, review-log fuzz, the API) run once, on py-evm: the same EVM
# (cancun), and a second pass over their ~1,500 transactions doubled CI time without covering anything new.
NODE_SUITES := $(addprefix tests/chain/,test_smoke.py test_sender.py test_indexer.py test_indexer_faults.py \
	test_checkpointer.py test_manifest.py test_service.py test_verify.py test_bundle.py test_disputes_smoke.py \
	test_tally.py)

.PHONY: up test deps compile test-fast test-hardhat test-node fuzz fuzz-api bench-gas bench-reviews bench-checkpoints bench-api bench-compare hammer lint clean reset

up: deps ## the embedded default: local chain (state kept on disk), contracts deployed on first start, the API on :8000
	$(PY) -m cli.main up

test: deps ## everything: lint and types, artifacts and vectors reproduced, all suites on py-evm, the node suites on Hardhat
	$(VENV)/bin/ruff check ledger api cli tests scripts
	$(VENV)/bin/mypy
	$(NODE_DIR)/node_modules/.bin/solhint --max-warnings 0 'contracts/**/*.sol'
	$(PY) -m ledger.compile --check
	$(PY) scripts/gen_merkle_vectors.py --check
	$(PY) scripts/gen_review_vectors.py --check
	$(PY) -m pytest -q -p no:cacheprovider
	$(PY) -m pytest -q -p no:cacheprovider -m chain --chain=hardhat $(NODE_SUITES)
	@echo "make test: all suites passed (py-evm, then a live Hardhat 2 node)"

test-fast: deps ## the suites on py-evm only
	$(PY) -m pytest -q

FUZZ_SUITES := tests/unit/test_merkle.py tests/unit/test_receipts.py tests/unit/test_reviews.py \
	tests/unit/test_vault.py tests/unit/test_signals.py tests/unit/test_mirror.py tests/chain/test_bundle.py

fuzz: deps ## Hypothesis over the parsers and verifiers at 10x make test's examples; prints the cases run
	TRUSTLEDGER_FUZZ_SCALE=10 $(PY) -m pytest -q -p no:cacheprovider --hypothesis-show-statistics $(FUZZ_SUITES) \
		> $(VENV)/fuzz.log; status=$$?; tail -1 $(VENV)/fuzz.log; $(PY) scripts/count_cases.py $(VENV)/fuzz.log; \
		exit $$status

fuzz-api: deps ## schemathesis over the API with 200 examples per operation (make test runs 30)
	TRUSTLEDGER_SCHEMATHESIS_EXAMPLES=200 $(PY) -m pytest -q -s tests/api/test_schemathesis.py

test-hardhat: deps ## every chain suite, not only the node suites, on a Hardhat 2 node (about 25 minutes here)
	$(PY) -m pytest -q -m chain --chain=hardhat --ignore=tests/api

test-node: deps ## the chain suites against Anvil
	$(PY) -m pytest -q -m chain --chain=anvil

deps: $(STAMP_PY) $(STAMP_NODE)

$(STAMP_PY): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(STAMP_NODE): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

compile: deps ## recompile contracts/ into ledger/artifacts
	$(PY) -m ledger.compile

bench-gas: deps ## gas table beside EAS, written into BENCHMARKS.md
	$(PY) scripts/bench/gas.py

bench-reviews: deps ## review log appends per second (SQLite and PostgreSQL), written into BENCHMARKS.md
	$(PY) scripts/bench/reviews.py

bench-checkpoints: deps ## checkpoint gas and time against batch size, the MMD at full speed (Anvil)
	$(PY) scripts/bench/checkpoints.py

bench-api: deps ## the HTTP API under load (uvicorn + Anvil + a separate load process), written into BENCHMARKS.md
	$(PY) scripts/bench/api.py

bench-compare: deps ## TrustLedger beside EAS and DocumentStore (gas), 1 vs 2 API workers, growth with the log; BENCHMARKS.md + docs/bench/gas-per-record.png
	$(PY) scripts/bench/compare.py

hammer: deps ## 60 s of random writes by 16 clients on its own Anvil + service, then every promise checked from the chain
	$(PY) scripts/hammer.py --seconds 60 --clients 16

lint: deps
	$(VENV)/bin/ruff check ledger api cli tests scripts
	$(VENV)/bin/mypy

lint-sol: deps ## solhint over contracts/ with .solhint.json (its rule choices: SECURITY.md); any warning fails
	$(NODE_DIR)/node_modules/.bin/solhint --max-warnings 0 'contracts/**/*.sol'

reset: ## forget the local chain's state and deployment
	$(PY) -m ledger.devnet reset

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules $(NODE_DIR)/artifacts $(NODE_DIR)/cache .trustledger
