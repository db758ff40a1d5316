# Ferry build, test and run targets. `make help` lists them.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:
# Frontend and desktop builds share frontend/dist: keep targets sequential.
.NOTPARALLEL:

GO := $(or $(shell command -v go 2>/dev/null),/usr/local/go/bin/go)
GOBIN := $(or $(shell $(GO) env GOBIN 2>/dev/null),$(shell $(GO) env GOPATH 2>/dev/null)/bin)
export PATH := $(dir $(GO)):$(PATH):$(GOBIN)

WAILS_VERSION := v2.11.0
TAGS := webkit2_41
# From `git describe` (build/version.sh); the binaries, packages and file names share it.
FERRY_VERSION ?= $(shell build/version.sh)
export FERRY_VERSION
LDFLAGS := -X github.com/ferrysync/ferry/backend/buildinfo.version=$(FERRY_VERSION)
DESKTOP_BIN := build/bin/ferry-desktop
BENCHTIME ?= 3x
PKGS ?= ./...

# The S3 tests start a private SeaweedFS (weed), built from source into $(GOBIN) once.
SEAWEEDFS_VERSION := v0.0.0-20261109003541-7506e5f91cd6
# Debian packages: what the tests need (package main links GTK/WebKit through cgo;
# backend tests use rsync and start a private redis-server, and a private Redis Cluster joined
# with redis-cli; app/notify starts a private dbus-daemon), and weed for the S3 tests …
DEPS_TEST := pkg-config build-essential libgtk-3-dev libwebkit2gtk-4.1-dev rsync redis-server redis-tools dbus \
	seaweedfs@$(SEAWEEDFS_VERSION)
# … and what building, running and checking the desktop window need besides.
DEPS_RUN := xvfb xdotool imagemagick dbus-x11

# Building the packages (nfpm is a Go tool of this module) …
DEPS_PACKAGE := imagemagick dpkg-dev nsis zip
# … and checking them: a clean Debian root, lintian, rpm, appstream, wine for the Windows build.
DEPS_PACKAGE_TEST := debootstrap lintian rpm appstream desktop-file-utils wine wine64 binutils curl xvfb xdotool imagemagick dbus
DIST := dist

NODE_MODULES := frontend/node_modules/.package-lock.json

.PHONY: help deps deps-test deps-run frontend-deps frontend build run dev ferry \
	vet lint test test-unit test-go test-race test-frontend bindings bindings-check test-long wails-check e2e e2e-members screenshots bench package package-test clean

help:
	@echo "make run          build the desktop app and start it"
	@echo "make build        build the desktop app ($(DESKTOP_BIN))"
	@echo "make ferry        build the headless ferry command (bin/ferry, no cgo)"
	@echo "make test         vet, lint, Go tests, frontend checks and tests, desktop window check"
	@echo "make test-race    every Go test under the race detector (part of test-long)"
	@echo "make test-long    every Go test under the race detector, and the long variants (FERRY_TEST_LONG=1, names ending in Large)"
	@echo "make wails-check  start the desktop app on Xvfb, wait for its window, take a screenshot"
	@echo "make e2e          drive the desktop app through a mirror on Xvfb, screenshot every screen"
	@echo "make e2e-members  two desktop apps join one session and mirror between their folders"
	@echo "make screenshots  copy the screenshots of the last runs ($(SHOTS)) into build/screenshots"
	@echo "make bench        benchmarks, Ferry beside cp -a and rsync -a on the same data"
	@echo "                  (the scale families at 200k files; FERRY_BENCH_1M=1 adds 1M, BENCHTIME=1x)"
	@echo "make package      .deb, .rpm, Windows installer and tarballs into $(DIST)/"
	@echo "make package-test install the packages in a clean Debian root and check them"
	@echo "make bindings     regenerate the frontend's bindings and types from the Go services"
	@echo "make deps         install missing Debian packages, the Wails CLI and npm packages"
	@echo "make clean        remove build outputs"

deps: deps-test deps-run frontend-deps

deps-test:
	build/deps.sh $(DEPS_TEST)

deps-run: deps-test
	build/deps.sh $(DEPS_RUN)
	if ! command -v wails >/dev/null; then \
		echo "deps: installing wails $(WAILS_VERSION)"; \
		$(GO) install github.com/wailsapp/wails/v2/cmd/wails@$(WAILS_VERSION); \
	fi

frontend-deps: $(NODE_MODULES)

$(NODE_MODULES): frontend/package-lock.json frontend/package.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

frontend: frontend-deps
	cd frontend && npm run build

# Position-independent, as Debian's hardening asks.
build: deps-run frontend-deps
	GOFLAGS=-buildmode=pie wails build -tags $(TAGS) -m -nosyncgomod -clean -nocolour -trimpath -ldflags "$(LDFLAGS)"

run: build
	./$(DESKTOP_BIN)

dev: deps-run frontend-deps
	wails dev -tags $(TAGS) -m -nosyncgomod -ldflags "$(LDFLAGS)"

ferry:
	CGO_ENABLED=0 $(GO) build -o bin/ferry ./backend/cmd/ferry

# Package main embeds frontend/dist, whose tracked .gitkeep is enough to compile it: vetting,
# linting and testing the Go code need no frontend build.
vet: deps-test
	$(GO) vet -tags $(TAGS) $(PKGS)

# golangci-lint is a Go tool of this module (go.mod); .golangci.yml picks its linters.
# go.mod and go.sum must cover every tool (nfpm, golangci-lint) as well as the code.
lint: deps-test
	$(GO) mod tidy -diff
	$(GO) tool golangci-lint run $(PKGS)

# Most tests wait on processes, sockets and disks: four packages at a time keep two cores busy.
GOTEST_P ?= 4

test-go: deps-test
	$(GO) test -tags $(TAGS) -count=1 -p $(GOTEST_P) $(PKGS)

# Every Go test again under the race detector: about twice the CPU, so in the long tier.
test-race: deps-test
	$(GO) test -tags $(TAGS) -race -count=1 -p $(GOTEST_P) $(PKGS)

# The frontend's bindings and types follow the Go services (build/bindings.sh): `make bindings`
# writes them, bindings-check fails when the committed ones differ.
bindings: deps-run
	build/bindings.sh

bindings-check: deps-run
	build/bindings.sh --check

test-frontend: frontend-deps bindings-check
	cd frontend && npm run check && npx vitest run

test-unit: vet lint test-go test-frontend

# Tests too long for every run (names ending in Large, skipped without FERRY_TEST_LONG: ferry sync
# killed six times during a mirror of 300 MB, a relay server stopped for 10 s mid-copy…).
# The race detector's pass over every test is part of it.
test-long: test-race
	FERRY_TEST_LONG=1 $(GO) test -count=1 -run 'Large$$' -timeout 60m ./backend/...

# Screenshots of the runs below land in $(SHOTS), which git ignores; `make screenshots` copies
# them into build/screenshots, the tracked ones the README shows, when they are meant to change.
SHOTS := build/out/screenshots

wails-check: build
	build/e2e/skeleton.sh $(DESKTOP_BIN) $(SHOTS)/start.png

test: test-unit wails-check

# The end-to-end run writes its screenshots here.
E2E_OUT ?= $(SHOTS)

e2e: build
	build/deps.sh $$(bash -c 'source build/e2e/lib.sh && echo "$$E2E_DEBS"')
	build/e2e/run.sh $(DESKTOP_BIN) $(E2E_OUT)
	build/e2e/profiles.sh $(DESKTOP_BIN) $(E2E_OUT)/profiles
	build/e2e/shared.sh $(DESKTOP_BIN) $(E2E_OUT)/shared
	build/e2e/members.sh $(DESKTOP_BIN) $(E2E_OUT)/members

# Two apps, two computers of one session (safety words, a mirror, both summaries), on its own.
e2e-members: build
	build/deps.sh $$(bash -c 'source build/e2e/lib.sh && echo "$$E2E_DEBS"')
	build/e2e/members.sh $(DESKTOP_BIN) $(E2E_OUT)/members

# The README's screenshots, refreshed on purpose from the last make test, e2e and package-test.
screenshots:
	shopt -s nullglob; files=(); \
	for f in $(SHOTS)/*.png $(SHOTS)/perf.tx[t]; do [[ $$f == */failure.png ]] || files+=("$$f"); done; \
	(($${#files[@]})) || { echo "screenshots: nothing in $(SHOTS): run make e2e first" >&2; exit 1; }; \
	cp -v "$${files[@]}" build/screenshots/; \
	for f in $(SHOTS)/profiles/[0-9]*.png; do cp -v "$$f" "build/screenshots/profiles-$${f##*/}"; done; \
	for f in $(SHOTS)/shared/[0-9]*.png; do cp -v "$$f" "build/screenshots/shared-$${f##*/}"; done; \
	for f in $(SHOTS)/members/[0-9]*.png; do cp -v "$$f" "build/screenshots/members-$${f##*/}"; done

bench: deps-test
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) -timeout 60m ./backend/... \
		| awk -f build/bench/ratios.awk
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) -timeout 20m ./app

package: build
	build/deps.sh $(DEPS_PACKAGE)
	rm -rf $(DIST)
	mkdir -p $(DIST)/.stage/bin
	# Linked against the system's libc, as a Debian binary is; the tarballs hold static ones.
	CGO_ENABLED=1 $(GO) build -buildmode=pie -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(DIST)/.stage/bin/ferry ./backend/cmd/ferry
	build/package/linux.sh $(DIST) $(DESKTOP_BIN) $(DIST)/.stage/bin/ferry
	build/package/tarballs.sh $(DIST)
	build/package/windows.sh $(DIST)
	cd $(DIST) && sha256sum -- * > SHA256SUMS
	@ls -l $(DIST)

# Screenshots of the installed app land here.
PACKAGE_TEST_OUT ?= $(SHOTS)

package-test: package
	build/deps.sh $(DEPS_PACKAGE_TEST)
	build/package/test-linux.sh $(DIST) $(PACKAGE_TEST_OUT)
	build/package/test-windows.sh $(DIST)

clean:
	rm -rf build/bin build/out bin $(DIST) frontend/node_modules frontend/package.json.md5
	find frontend/dist -mindepth 1 ! -name .gitkeep -delete
