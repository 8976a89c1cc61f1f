# footprint's build. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/footprint
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
# Packages that are pure logic: no root, no kernel, no API server.
UNIT_PKGS := ./crds/... ./profiles/... ./generator/...
FUZZTIME ?= 10s

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/footprint
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/footprint

.PHONY: generate
generate: ## regenerate BPF objects and bindings, deepcopy and CRD manifests
	$(GO) generate ./bpf/...
	$(GO) tool controller-gen object paths=./crds/...

.PHONY: test-unit
test-unit: ## pure-logic tests (no root needed)
	$(GO) test $(UNIT_PKGS)
