// Package kube is the Runtime of Kubernetes mode: each replica is a pod.
//
// The scheduler has already placed every replica of a gang when the job
// controller starts them, so a pod is created bound to its node
// (spec.nodeName) and no other scheduler is involved. Pods have
// deterministic names (the replica's), an owner reference to their job, the
// job's annotations, the labels below, restartPolicy Never (restarts are the
// job controller's decision) and a finalizer that keeps a finished pod, and
// with it its exit code, until the controller removes the replica. Each job
// gets a headless Service named after it so that peers reach a replica at
// <pod>.<job>.<namespace>.svc (the rendezvous address of the training
// presets).
//
// Replica state comes from a pod informer: a pod that has not terminated is
// Running; a terminated one is Exited with its container's exit code, with
// Reason "Stopped" when Skiff stopped it. A pod deleted behind Skiff's back
// ends like a killed process (its job's failure policy decides), and one
// removed without a trace is unknown, which the controller treats as lost.
// Shutdown leaves pods running: another operator replica takes over.
package kube
