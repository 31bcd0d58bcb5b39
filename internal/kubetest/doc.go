// Package kubetest starts a real Kubernetes control plane for tests: etcd,
// kube-apiserver and, on request, kwok (fake nodes and pod lifecycle) and
// kube-controller-manager (garbage collection through owner references,
// namespace deletion, default service accounts).
//
// The binaries are built from Go modules by test/kube/build.sh (nothing is
// downloaded as a binary) and cached under bin/kube/, so only the first run
// on a machine pays the build; Start runs the script once per test process.
// Each Start gets its own temporary directory (certificates, etcd data,
// logs) and free loopback ports, so several test packages can run clusters
// at the same time.
//
// Tests that use it are skipped unless SKIFF_KUBE_TEST=1 (make test-kube).
//
// With Options.Logs, kwok also stands in for the nodes' kubelets towards
// the API server, so a pod's log is read through the API as on a real
// cluster; WritePodLogs sets what it says.
//
// Pods bound to a kwok node (spec.nodeName set by whoever creates them) go
// Running at once; a pod annotated with CompleteAfterAnnotation finishes
// after that delay, with the exit code of ExitCodeAnnotation (Succeeded on
// 0, Failed otherwise); a deleted pod goes away after DeleteDelayAnnotation
// (immediately by default), once it has no finalizers; one deleted while
// it still holds finalizers first stops as a kubelet stops it (exit code
// 143, phase Failed) and stays until they are removed. SetNodeReady takes
// a node's kubelet away (Ready=False) and brings it back.
package kubetest
