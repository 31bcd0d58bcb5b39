# The whole test suite: formatting, vet, staticcheck, then every package's
# tests (unit, store conformance on both backends, end-to-end) with -race.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
PKGS := ./...

.PHONY: test deps lint unit fuzz build bench kube-bins

test: deps lint unit fuzz

# The real components the integration tests drive (prometheus, chromium):
# installed only when missing.
deps:
	bash .ci/install-deps

build:
	$(GO) build -o bin/skiff ./cmd/skiff

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# Each fuzz target runs for a bounded time (30 s in all): the replica path
# resolver that logs go through, the manifest decoder every write uses and
# the metric line parser that reads every replica's output.
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReplicaDir$$' -fuzztime $(FUZZTIME) ./internal/runtime/local
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./api/v1alpha1
	$(GO) test -run '^$$' -fuzz '^FuzzParseLine$$' -fuzztime $(FUZZTIME) ./internal/metrics

# Benchmarks print their numbers; see README.md for what each measures.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2x ./bench/...

# The real Kubernetes components the Kubernetes-mode tests start
# (internal/kubetest): kube-apiserver, etcd, kube-controller-manager and kwok,
# built from Go modules into bin/kube/ only when missing or stale.
kube-bins:
	bash test/kube/build.sh
