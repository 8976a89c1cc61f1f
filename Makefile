# footprint's build. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/footprint
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
# Packages that are pure logic: no root, no kernel, no API server.
UNIT_PKGS := ./crds/... ./profiles/... ./policies/... ./generator/...
FUZZTIME ?= 10s
BENCHROUNDS ?= 7

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/footprint
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/footprint

.PHONY: generate
generate: ## regenerate BPF objects and bindings, deepcopy and CRD manifests
	$(GO) generate ./bpf/...
	$(GO) tool controller-gen object paths=./crds/...
	$(GO) tool controller-gen crd paths=./crds/... output:crd:dir=deploy/crds

.PHONY: check-generated
check-generated: generate ## fail when committed generated files differ from what `make generate` makes
	@if ! git diff --quiet -- bpf crds deploy/crds; then \
		git --no-pager diff --stat -- bpf crds deploy/crds; \
		echo "generated files are stale: run 'make generate' and commit the result" >&2; exit 1; fi

.PHONY: check-format
check-format: ## fail when a Go file is not gofmt-formatted
	@files=$$("$$(dirname "$$(command -v $(GO))")/gofmt" -l $$(git ls-files '*.go')); if [ -n "$$files" ]; then \
		echo "not gofmt-formatted (run gofmt -w on them):" >&2; echo "$$files" >&2; exit 1; fi

.PHONY: vmlinux
vmlinux: ## regenerate bpf/include/vmlinux.h from this machine's kernel BTF (rarely needed: CO-RE)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > bpf/include/vmlinux.h

# The longest test packages, started first: go test runs -p (the cores) at a time in
# this order, so the enforcer's (its VM boots: about 45 minutes on 2 cores) overlaps
# the others instead of starting when the first of them ends.
TEST_FIRST = ./enforcer ./recorder ./cmd/footprint ./bpf

.PHONY: test
test: check-generated check-format ## every test: gofmt, vet, kernel tests (root), the BPF-LSM VM, real daemons, short fuzzing, the e2e on a real cluster
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e
	KUBEBUILDER_ASSETS=$$(hack/control-plane.sh) $(GO) test -count=1 -timeout 60m $$({ $(GO) list $(TEST_FIRST); $(GO) list ./... | grep -v '/test/apps$$'; } | awk '!seen[$$0]++')
	$(MAKE) test-apps
	$(MAKE) fuzz
	$(MAKE) e2e

.PHONY: test-apps
test-apps: ## nginx, redis and PostgreSQL from Debian recorded through their lifecycles, then enforced: reruns clean, misbehaviour stopped; prints profile sizes (root)
	$(GO) test -count=1 -v -skip '^TestThroughput$$' -timeout 20m ./test/apps

.PHONY: image
image: build ## the agent image, bin/footprint-image.tar (docker-archive, built without a daemon): footprint.dev/footprint:dev
	python3 test/cluster/mkimage.py bin/footprint-image.tar footprint.dev/footprint:dev '["/footprint"]' bin/footprint=footprint

.PHONY: e2e
e2e: build ## the README's Kubernetes walkthrough on a real one-node cluster: up, test, down (root)
	hack/e2e.sh

.PHONY: bench
bench: bench-host bench-apps bench-vm ## benchmarks on this kernel, of real daemons, and per backend family in the VM (root)

.PHONY: bench-host
bench-host: ## each loop without footprint, loaded, attached, recording, in audit and in enforce, on this kernel (root)
	$(GO) test -run '^$$' -bench . -count 1 -timeout 60m ./test/bench/ -args -rounds $(BENCHROUNDS)
	$(GO) test -run '^$$' -bench ReadAll -count 1 ./bpf/
	$(GO) test -run '^$$' -bench WriterAdd -count 1 ./recorder/profilestore/

.PHONY: bench-scale
bench-scale: ## 100 simulated agents writing 50 Profiles through one real API server for a minute: requests, conflicts, sizes, exact merges
	KUBEBUILDER_ASSETS=$$(hack/control-plane.sh) FOOTPRINT_SCALE_AGENTS=100 FOOTPRINT_SCALE_WORKLOADS=50 FOOTPRINT_SCALE_REPLICAS=10 \
		FOOTPRINT_SCALE_DURATION=60s FOOTPRINT_SCALE_FLUSH=10s $(GO) test -count=1 -v -timeout 20m -run TestManyAgentsWriteExactProfiles ./test/scale/

# The node bench's shape; override any, e.g. `make bench-node NODE_PODS=100 NODE_RATE=20000`.
NODE_PODS ?= 250
NODE_RATE ?= 50000
NODE_DURATION ?= 60s
NODE_FLUSH ?= 10s
# A directory: the agent's CPU profile of the measured time and its heap at the end go there.
NODE_PPROF ?=

.PHONY: bench-node
bench-node: ## the node agent with 250 pods (500 containers, both cgroup drivers) at 50,000 kernel events/s for a minute (NODE_PODS, NODE_RATE, NODE_DURATION, NODE_FLUSH change it): entries lost, memory, CPU, map memory, watch latency, API cost (root)
	KUBEBUILDER_ASSETS=$$(hack/control-plane.sh) FOOTPRINT_NODE_PODS=$(NODE_PODS) FOOTPRINT_NODE_RATE=$(NODE_RATE) FOOTPRINT_NODE_DURATION=$(NODE_DURATION) FOOTPRINT_NODE_FLUSH=$(NODE_FLUSH) FOOTPRINT_NODE_PPROF=$(NODE_PPROF) \
		$(GO) test -count=1 -v -timeout 20m -run '^TestOneBusyNodeRecordsEveryEntry$$' ./test/scale/

.PHONY: bench-apps
bench-apps: ## nginx, redis and PostgreSQL throughput under their load generators: plain, recording and enforced, in interleaved rounds (root)
	$(GO) test -count=1 -v -run '^TestThroughput$$' -timeout 60m ./test/apps -args -throughput -rounds $(BENCHROUNDS)

.PHONY: bench-vm
bench-vm: ## the same loops in the VM with the BPF-LSM, fmod_ret+fentry and tracepoint backends; indicative ratios (root)
	BENCHROUNDS=$(BENCHROUNDS) hack/bench-vm.sh

.PHONY: demo
demo: build ## the local demo: record a workload, export least privilege from its profile (root)
	CGO_ENABLED=0 $(GO) build -o bin/demo-app ./examples/demo
	examples/demo/run.sh

.PHONY: test-unit
test-unit: ## pure-logic tests (no root needed)
	$(GO) test $(UNIT_PKGS)

# Every `func FuzzXxx` in a _test.go file is found, so a new fuzz target runs
# without editing this file. go test -fuzz takes one target per run. New
# inputs are minimised briefly: the default 60 s would take the whole budget.
.PHONY: fuzz
fuzz: ## run every go test -fuzz target for $(FUZZTIME) each, one after another
	@set -euo pipefail; \
	targets=$$(grep -rE --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata '^func Fuzz[A-Za-z0-9_]*\(' . \
		| sed -E 's|^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|' | sort -u); \
	if [ -z "$$targets" ]; then echo "no fuzz targets found" >&2; exit 1; fi; \
	while read -r dir target; do \
		echo "fuzz: $$target in ./$$dir for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 200x "./$$dir" </dev/null; \
	done <<< "$$targets"

.PHONY: test-vm
test-vm: ## BPF-LSM tests in a QEMU VM with Debian's kernel (root; installs qemu and the kernel on first use)
	$(GO) test -count=1 -timeout 30m ./test/vm/...

# --- Kubernetes: a real kube-apiserver and etcd for the CRD and controller tests ---
# hack/control-plane.sh builds them from their Go modules once (about 6 minutes
# on 2 cores) and caches them under ~/.cache/footprint/k8s/<version>; the
# test/envtest helper runs it itself when KUBEBUILDER_ASSETS is unset, so
# `make test` needs nothing more.

.PHONY: envtest-assets
envtest-assets: ## build (once) and cache kube-apiserver and etcd for envtest; prints the KUBEBUILDER_ASSETS directory
	hack/control-plane.sh

.PHONY: test-envtest
test-envtest: ## CRD validation, printer columns and generated-artifact dry-runs against a real kube-apiserver and etcd
	KUBEBUILDER_ASSETS=$$(hack/control-plane.sh) $(GO) test -count=1 -timeout 30m ./test/envtest/...

# --- A real one-node cluster (kubelet + containerd + runc) for the end-to-end test ---
# hack/cluster.sh builds kube-controller-manager, kube-scheduler and kubelet from
# their Go modules once (about 13 minutes on a busy 2-core machine), caches them
# by version, and brings the cluster up and down without leaving anything behind.

.PHONY: cluster-smoke
cluster-smoke: ## one-node cluster: up, a 2-replica Deployment Ready on the pod bridge, down, nothing left (root)
	test/cluster/smoke.sh
