#!/usr/bin/env bash
# Installs what footprint needs to build and test on Debian 12, idempotently:
# Debian packages (clang, llvm, libbpf headers, make, ...) and, when the
# machine has no recent enough Go, a Go toolchain from the Go module proxy.
# Source it to get PATH set up: `. hack/setup.sh`. Needs root for apt.
set -euo pipefail

FOOTPRINT_CACHE=${FOOTPRINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/footprint}
GO_WANT=${GO_WANT:-1.26.8}
# Debian packages: compiler and headers for the BPF objects, and the tools
# the tests drive (setpriv/unshare from util-linux, iproute2).
PACKAGES=(clang llvm libbpf-dev make git ca-certificates curl unzip util-linux iproute2)
# Real daemons for test/apps and their load generators for `make bench`
# (redis-benchmark comes with redis-tools, pgbench with postgresql-15).
# The tests run their binaries with their own configuration and data in
# temporary directories: the packages' services are never started.
PACKAGES+=(nginx redis-server redis-tools postgresql-15 postgresql-client-15)

log() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

install_packages() {
	local missing=()
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	if [ "$(id -u)" -ne 0 ]; then
		log "missing Debian packages: ${missing[*]}; run this as root (sudo) to install them"
		exit 1
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Stale package lists give 404s: update first when installing anything.
	apt-get update -qq
	# Daemons' packages start their services on install: policy-rc.d's
	# 101 tells invoke-rc.d not to. One that is already there is kept.
	local policy=/usr/sbin/policy-rc.d made_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# hack/setup.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	local rc=0
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
	[ -z "$made_policy" ] || rm -f "$policy"
	[ "$rc" -eq 0 ] || { log "apt-get install ${missing[*]} failed ($rc)"; exit "$rc"; }
}

go_version_ok() {
	local v
	v=$("$1" env GOVERSION 2>/dev/null) || return 1
	v=${v#go}
	# sort -V puts the smaller first: ok when the wanted one is not newer.
	[ "$(printf '%s\n%s\n' "$GO_WANT" "$v" | sort -V | head -n1)" = "$GO_WANT" ]
}

install_go() {
	for candidate in "$(command -v go || true)" /usr/local/go/bin/go "$FOOTPRINT_CACHE/go/bin/go"; do
		if [ -n "$candidate" ] && [ -x "$candidate" ] && go_version_ok "$candidate"; then
			export PATH="$(dirname "$candidate"):$PATH"
			return
		fi
	done
	# The Go module proxy serves toolchains as modules (what GOTOOLCHAIN
	# downloads): no go.dev download needed.
	local mod="golang.org/toolchain@v0.0.1-go${GO_WANT}.linux-$(dpkg --print-architecture)"
	local url="https://proxy.golang.org/golang.org/toolchain/@v/${mod#golang.org/toolchain@}.zip"
	log "installing Go $GO_WANT from the Go module proxy into $FOOTPRINT_CACHE/go"
	mkdir -p "$FOOTPRINT_CACHE"
	local tmp
	tmp=$(mktemp -d "$FOOTPRINT_CACHE/go-download.XXXXXX")
	curl -fsSL -o "$tmp/go.zip" "$url"
	unzip -q "$tmp/go.zip" -d "$tmp"
	rm -rf "$FOOTPRINT_CACHE/go"
	mv "$tmp/$mod" "$FOOTPRINT_CACHE/go"
	rm -rf "$tmp"
	chmod +x "$FOOTPRINT_CACHE/go/bin/"* "$FOOTPRINT_CACHE/go/pkg/tool/"*/* 2>/dev/null || true
	export PATH="$FOOTPRINT_CACHE/go/bin:$PATH"
	go_version_ok go || { log "Go from $url does not run"; exit 1; }
}

install_packages
install_go
export GOTOOLCHAIN=local
log "ready: $(go version), $(clang --version | head -n1)"
