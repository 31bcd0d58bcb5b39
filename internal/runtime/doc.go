// Package runtime defines how skiff runs replica processes. The local
// subpackage runs them as supervised child processes on this machine; a
// Kubernetes implementation runs them as pods. Controllers depend only on
// the Runtime interface.
package runtime
