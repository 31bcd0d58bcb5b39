// Package e2e builds the skiff binary and drives it as a user would: it
// starts `skiff up` in a temporary directory, applies manifests with the
// CLI, reads logs, kills the server and checks what survives.
package e2e
