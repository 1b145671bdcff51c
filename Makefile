# The two commands a newcomer needs: `make demo` and `make test`.
# Both install missing system packages first (scripts/bootstrap.sh) and build with a target folder outside
# the clone, so fresh clones reuse earlier builds.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/tvilling-target
TVILLING := $(CARGO_TARGET_DIR)/debug/tvilling
DEMO_STORE ?= demo-data
DEMO_ADDR ?= 127.0.0.1:8080

.PHONY: all bootstrap build demo test lint bench schema clean-demo

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	cargo build -p tvilling

## Build a sample twin (generated town + ../shared/data samples when present), then serve it: the
## Cesium viewer at http://$(DEMO_ADDR)/ (Ctrl-C stops the server; the twin stays in $(DEMO_STORE)).
demo: build
	$(TVILLING) --store $(DEMO_STORE) demo --addr $(DEMO_ADDR)

## Run every test: unit, doc and end-to-end (real binary, real GDAL/PROJ/Delta).
test: bootstrap
	cargo test --workspace --no-fail-fast

lint: bootstrap
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench: bootstrap
	cargo bench -p tvilling-benches

## Regenerate the checked-in JSON Schema of the config file.
schema: build
	$(TVILLING) config schema > schemas/config.schema.json

clean-demo:
	rm -rf $(DEMO_STORE)
