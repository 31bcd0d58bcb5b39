// Package simulated is a runtime.Runtime that runs no processes: a replica
// "runs" for the duration its environment names (DurationEnv, in
// milliseconds) and then exits with code 0. It lets benchmarks and tests
// drive the real control plane — API, store, scheduler, job controller — with
// thousands of replicas without forking anything, so what they measure is
// the control plane, not process start-up.
//
// It keeps the contract of the real runtimes that controllers rely on: a
// (namespace, name) is started at most once, Stop ends a replica early with
// Reason "Stopped", Shutdown with Reason "Shutdown", and every exit is
// delivered on Exits. State lives in memory only: a restarted server finds
// nothing, which is why it is not offered by `skiff up`.
package simulated
