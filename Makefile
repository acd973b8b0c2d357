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

.PHONY: setup test vet fuzz fuzz-http demo run gate soak bench bench-imagesvc bench-transport realworld clean

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

FUZZTIME ?= 10s
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParseChain$$' -fuzztime=$(FUZZTIME) ./imagesvc
	$(GO) test -run='^$$' -fuzz='^FuzzParseFaults$$' -fuzztime=$(FUZZTIME) ./transport
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./scenarios
	$(GO) test -run='^$$' -fuzz='^FuzzDecoder$$' -fuzztime=$(FUZZTIME) ./results

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

## bench: the performance run (issue 7); every result a ratio against a baseline measured in
## the same run: verifier vs plain client, transport overhead, time to reproduce, imagesvc
## settings, a memory soak (SOAK=60s shortens it, SOAK=0 skips it). About 10 minutes.
SOAK ?= 5m
bench: setup
	SOAK=$(SOAK) bash harness/bench.sh

## bench-imagesvc: imagesvc against bimg called the way imaginary 1.2.4 calls it (resize, WebP,
## rotate+resize of a 12 MP JPEG upload): ratios of speed and peak RSS measured in the same run.
bench-imagesvc: setup
	bash imagesvc/bench-vs-bimg.sh

bench-transport: setup
	bash transport/bench.sh

## realworld: reproduce hyper #4022 on Debian's hyper 0.14.19 and prove the fix.
realworld: setup
	bash targets/hyper/build.sh
	$(GO) run ./cmd/truncheck realworld --out $(OUT)/realworld

clean:
	rm -rf $(OUT)
