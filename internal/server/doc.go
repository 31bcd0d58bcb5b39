// Package server assembles the embedded control plane that `skiff up`
// runs: the SQLite store, the admin token, this machine's Node with its
// detected or declared GPUs, the default Flavor and Queue, the local runtime,
// the controllers and the authenticated HTTP API. It owns start-up order and
// clean shutdown; the pieces it wires hold all the logic.
package server
