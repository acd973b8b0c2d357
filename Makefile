# truncheck: the two set-up commands are `make demo` and `make test`; both install
# what is missing first (make setup), so a fresh Debian machine needs nothing else.

SHELL        := /bin/bash
GO           ?= go
# libvips prints warnings to stderr from any thread; the service reports errors itself.
export VIPS_WARNING := 0

SOAK_DURATION ?= 2m
OUT           ?= out
# sudo only when not root (CI and the dev machines run as root).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup test vet fuzz fuzz-http demo run gate soak bench bench-imagesvc bench-transport realworld survey-setup survey survey-quick image clean

## setup: install what is missing (libvips-dev for bimg, pkg-config, gcc for cgo); quiet when present.
setup:
	@missing=""; \
	pkg-config --exists vips 2>/dev/null || missing="$$missing libvips-dev"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	if [ -n "$$missing" ]; then \
		echo "setup: installing$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v $(GO) >/dev/null || { echo "setup: Go 1.26 is required (go not on PATH)"; exit 1; }

## test: vet, the race-enabled test suite, and a short fuzz of every parser.
test: setup vet
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=10s

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	@# everything but the image service builds without cgo (libvips is for imagesvc only)
	CGO_ENABLED=0 $(GO) build $$($(GO) list ./... | grep -v '/imagesvc$$')

FUZZTIME ?= 10s
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParseChain$$' -fuzztime=$(FUZZTIME) ./imagesvc
	$(GO) test -run='^$$' -fuzz='^FuzzParseFaults$$' -fuzztime=$(FUZZTIME) ./transport
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./scenarios
	$(GO) test -run='^$$' -fuzz='^FuzzDecoder$$' -fuzztime=$(FUZZTIME) ./results
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./harness/digest

## fuzz-http: the image service under the grammar-aware HTTP fuzzer (imagesvc/internal/httpfuzz)
## for FUZZ_HTTP_TIME; prints the status mix per input class, fails on any violation
## (a 500, a non-JSON error, a wrong digest, a cut image accepted, a valid request unanswered).
FUZZ_HTTP_TIME ?= 60s
fuzz-http: setup
	TRUNCHECK_FUZZ_HTTP=$(FUZZ_HTTP_TIME) $(GO) test -count=1 -run '^TestFuzzHTTP$$' -v ./imagesvc

## demo: the main job on the embedded defaults: the built-in image service, the quick catalog.
demo: setup
	$(GO) run ./cmd/truncheck run --out $(OUT)/demo

## gate: the CI regression gate; exits non-zero on any silent truncation, writes JUnit XML.
## BASELINE=path/to/summary.json (or a results directory) adds the regression comparison.
BASELINE ?=
gate: setup
	$(GO) run ./cmd/truncheck run --gate $(if $(BASELINE),--baseline $(BASELINE)) --out $(OUT)/gate

## soak: a bounded soak (SOAK_DURATION, default 2m); results appended as it goes.
soak: setup
	$(GO) run ./cmd/truncheck soak --duration $(SOAK_DURATION) --out $(OUT)/soak

## bench: the performance run; every result a ratio against a baseline measured in the same
## run, each measurement its own process in a rotating order, medians with their spread:
## verifier vs a plain client with the same buffer and vs vegeta, wrapper and proxy vs direct
## and proxy vs Toxiproxy, imagesvc vs bimg and vs imaginary (the peers built from source
## into a temporary directory when they can be), time to reproduce, imagesvc settings, a
## 10-minute memory soak judged by its slope (SOAK=0 skips it; charts in out/bench).
## About 25 minutes on this 2-core machine.
SOAK ?= 10m
bench: setup
	SOAK=$(SOAK) BENCH_OUT=$(OUT)/bench bash harness/bench.sh

## bench-imagesvc: imagesvc against bimg called the way imaginary 1.2.4 calls it, in one process,
## and against imaginary 1.2.4's server over loopback HTTP (resize, WebP, rotate+resize of a
## 12 MP JPEG upload): ratios of speed and peak RSS measured in the same run.
bench-imagesvc: setup
	bash imagesvc/bench-vs-bimg.sh

bench-transport: setup
	bash transport/bench.sh

## realworld: reproduce hyper #4022 on Debian's hyper 0.14.19 and prove the fix; the
## hyper target's accounts checked against the account protocol.
realworld: setup
	bash targets/hyper/build.sh
	TRUNCHECK_HYPER=1 $(GO) test -count=1 -run '^TestHyperConforms$$' ./harness
	$(GO) run ./cmd/truncheck realworld --out $(OUT)/realworld

## survey-setup: install the Debian packages of the surveyed servers that are missing
## (targets/survey); quiet when all are present. SURVEY_SERVERS=nginx,haproxy selects
## (default: every server); daemons a package starts on install are stopped again.
SURVEY_SERVERS ?=
survey-setup: setup
	@SURVEY_SERVERS="$(SURVEY_SERVERS)" $(GO) run ./targets/survey/setup

## survey: the field survey: every server from its Debian package (SURVEY_SERVERS selects) under
## every condition, each cell with its control, an HTTP/1.1 row and an HTTP/2 row where the server
## speaks h2 (SURVEY_PROTOCOLS); prints the table and its wall time, writes $(OUT)/survey
## (records, run.json, summary.json, junit.xml, report.html, survey.md). 33 minutes on this
## 2-core machine.
SURVEY_PROTOCOLS ?= http/1.1,h2
survey: survey-setup
	$(GO) run ./cmd/truncheck survey $(if $(SURVEY_SERVERS),--servers $(SURVEY_SERVERS)) --protocols $(SURVEY_PROTOCOLS) --out $(OUT)/survey

## survey-quick: CI's subset, so the machinery stays alive: three servers, one condition each
## (with its controls), over HTTP/1.1 and h2, every one required to run; stopped by SIGINT after
## 5 minutes at most (what ran is written, and the exit is non-zero).
SURVEY_QUICK_SERVERS    ?= nginx,haproxy,go
SURVEY_QUICK_CONDITIONS ?= nginx:reload,haproxy:upstream-cut-cl,go:send-timeout
survey-quick:
	timeout --signal=INT --kill-after=30s 5m $(GO) run ./cmd/truncheck survey --no-install \
		--servers $(SURVEY_QUICK_SERVERS) --require $(SURVEY_QUICK_SERVERS) \
		--conditions $(SURVEY_QUICK_CONDITIONS) --out $(OUT)/survey-quick

## image: the OCI image of the cgo-free binary, built from scratch: no container daemon, no
## base image pulled, Go alone. Writes $(OUT)/image/oci (an OCI layout: skopeo, crane or oras
## copy it to a registry) and $(OUT)/image/truncheck.tar (docker load, podman load).
## IMAGE_TAG=v1 names it truncheck:v1; IMAGE_ARCH=arm64 builds for another architecture.
IMAGE_TAG  ?= latest
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
image:
	@command -v $(GO) >/dev/null || { echo "image: Go 1.26 is required (go not on PATH)"; exit 1; }
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -o $(OUT)/image/truncheck ./cmd/truncheck
	$(GO) run ./deploy/mkimage --binary $(OUT)/image/truncheck --arch $(IMAGE_ARCH) \
		--layout $(OUT)/image/oci --tar $(OUT)/image/truncheck.tar --tag truncheck:$(IMAGE_TAG) --version $(IMAGE_TAG)

clean:
	rm -rf $(OUT)
