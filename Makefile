# The whole test suite: formatting, vet, staticcheck, then every package's
# tests (unit, store conformance on every backend, end-to-end) with -race,
# fuzzing, and Kubernetes mode against a real API server.
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
PKGS := ./...

.PHONY: test deps lint unit fuzz build bench crds deepcopy crds-check kube-bins test-kube

# controller-gen, pinned; `go run` builds it on a machine that has never
# seen it (the first run takes a minute, later ones a second).
CONTROLLER_GEN ?= $(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0

test: deps lint unit fuzz test-kube

# The real components the integration tests drive (prometheus, chromium):
# installed only when missing.
deps:
	bash .ci/install-deps

build:
	$(GO) build -o bin/skiff ./cmd/skiff

lint: crds-check
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# Each fuzz target runs a bounded number of inputs (about a minute in all on
# 2 cores): the replica path resolver that logs go through, the manifest
# decoder every write uses, the metric line parser that reads every
# replica's output, and the gateway's fast readers of request bodies and
# usage, held to encoding/json. A count, not a duration: with a duration,
# Go 1.26's fuzzing coordinator can report its own deadline as a failure
# when a worker is busy as time runs out (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 30000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReplicaDir$$' -fuzztime $(FUZZTIME) ./internal/runtime/local
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./api/v1alpha1
	$(GO) test -run '^$$' -fuzz '^FuzzParseLine$$' -fuzztime $(FUZZTIME) ./internal/metrics
	$(GO) test -run '^$$' -fuzz '^FuzzScanRequest$$' -fuzztime $(FUZZTIME) ./internal/gateway
	$(GO) test -run '^$$' -fuzz '^FuzzReadUsage$$' -fuzztime $(FUZZTIME) ./internal/gateway

# The CustomResourceDefinitions of every kind in api/v1alpha1, one file per
# kind under deploy/crds (skiff.dev_<plural>.yaml), from the Go types and
# their +kubebuilder markers. Float fields (experiment bounds, objectives)
# are deliberate, hence allowDangerousTypes.
crds:
	$(CONTROLLER_GEN) crd:allowDangerousTypes=true paths=./api/... output:crd:dir=deploy/crds

# Regenerates the DeepCopy methods after a change to api/v1alpha1.
deepcopy:
	rm -f api/v1alpha1/zz_generated.deepcopy.go
	$(CONTROLLER_GEN) object paths=./api/...

# Fails when deploy/crds or the DeepCopy methods differ from what the Go
# types generate (into a scratch directory: the tree is not touched). About
# 5 s with a warm build cache; the first run builds controller-gen (~2 min
# on 2 cores).
crds-check:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(CONTROLLER_GEN) crd:allowDangerousTypes=true paths=./api/... output:crd:dir=$$tmp && \
	$(CONTROLLER_GEN) object paths=./api/... output:object:stdout > $$tmp/zz_generated.deepcopy.go && \
	stale=0; \
	for f in $$tmp/skiff.dev_*.yaml; do cmp -s $$f deploy/crds/$$(basename $$f) || { echo "stale: deploy/crds/$$(basename $$f)"; stale=1; }; done; \
	for f in deploy/crds/skiff.dev_*.yaml; do [ -e $$tmp/$$(basename $$f) ] || { echo "no kind generates $$f: remove it"; stale=1; }; done; \
	cmp -s $$tmp/zz_generated.deepcopy.go api/v1alpha1/zz_generated.deepcopy.go || { echo "stale: api/v1alpha1/zz_generated.deepcopy.go"; stale=1; }; \
	if [ $$stale = 1 ]; then echo "run make crds deepcopy and commit the result"; exit 1; fi

# Benchmarks print their numbers; see README.md for what each measures.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2x ./bench/...

# The real Kubernetes components the Kubernetes-mode tests start
# (internal/kubetest): kube-apiserver, etcd, kube-controller-manager and kwok,
# built from Go modules into bin/kube/ only when missing or stale.
kube-bins:
	bash test/kube/build.sh

# Kubernetes mode on real components (built by kube-bins): the harness, the
# kube store's conformance suite, the pod runtime and the operator end to
# end. One package at a time: each starts its own API server.
KUBE_PKGS := ./internal/kubetest/... ./internal/store/kube/... ./internal/runtime/kube/... ./test/kube/...
test-kube: kube-bins
	SKIFF_KUBE_TEST=1 $(GO) test -race -count=1 -p 1 -timeout 30m $(KUBE_PKGS)
