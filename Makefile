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
FERRY_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/ferrysync/ferry/app.Version=$(FERRY_VERSION)
DESKTOP_BIN := build/bin/ferry-desktop
BENCHTIME ?= 3x
PKGS ?= ./...

# Debian packages: what the tests need (package main links GTK/WebKit through cgo;
# backend tests use rsync and start a private redis-server; app/notify starts a private
# dbus-daemon) …
DEPS_TEST := pkg-config build-essential libgtk-3-dev libwebkit2gtk-4.1-dev rsync redis-server dbus
# … and what building, running and checking the desktop window need besides.
DEPS_RUN := xvfb xdotool imagemagick dbus-x11

NODE_MODULES := frontend/node_modules/.package-lock.json

.PHONY: help deps deps-test deps-run frontend-deps frontend build run dev ferry \
	vet test test-unit test-go test-frontend wails-check e2e bench clean

help:
	@echo "make run          build the desktop app and start it"
	@echo "make build        build the desktop app ($(DESKTOP_BIN))"
	@echo "make ferry        build the headless ferry command (bin/ferry, no cgo)"
	@echo "make test         vet, Go tests (-race), frontend checks and tests, desktop window check"
	@echo "make wails-check  start the desktop app on Xvfb, wait for its window, take a screenshot"
	@echo "make e2e          drive the desktop app through a mirror on Xvfb, screenshot every screen"
	@echo "make bench        benchmarks, Ferry beside cp -a and rsync -a on the same data"
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

build: deps-run frontend-deps
	wails build -tags $(TAGS) -m -nosyncgomod -clean -nocolour -ldflags "$(LDFLAGS)"

run: build
	./$(DESKTOP_BIN)

dev: deps-run frontend-deps
	wails dev -tags $(TAGS) -m -nosyncgomod -ldflags "$(LDFLAGS)"

ferry:
	CGO_ENABLED=0 $(GO) build -o bin/ferry ./backend/cmd/ferry

vet: deps-test frontend
	$(GO) vet -tags $(TAGS) $(PKGS)

test-go: deps-test frontend
	$(GO) test -tags $(TAGS) -race -count=1 $(PKGS)

test-frontend: frontend-deps
	cd frontend && npm run check && npx vitest run

test-unit: vet test-go test-frontend

wails-check: build
	build/e2e/skeleton.sh $(DESKTOP_BIN) build/screenshots/start.png

test: test-unit wails-check

# The end-to-end run writes its screenshots here (the README shows them).
E2E_OUT ?= build/screenshots

e2e: build
	build/deps.sh $$(bash -c 'source build/e2e/lib.sh && echo "$$E2E_DEBS"')
	build/e2e/run.sh $(DESKTOP_BIN) $(E2E_OUT)

bench: deps-test
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) -timeout 60m ./backend/... \
		| awk -f build/bench/ratios.awk

clean:
	rm -rf build/bin bin frontend/node_modules frontend/package.json.md5
	find frontend/dist -mindepth 1 ! -name .gitkeep -delete
