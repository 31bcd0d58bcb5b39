// Package cli is the skiff command line: apply, get, describe, delete,
// logs, wait, version and completion, with kubectl's habits (KIND NAME and
// KIND/NAME arguments, -n/-A, -o wide|yaml|json|name, -l, -w).
//
// The package never exits the process. Commands return errors that read as
// one line saying what to do; cmd/skiff prints "error: " + the message and
// exits 1. The server and token come from --server/--token, then
// SKIFF_SERVER/SKIFF_TOKEN, then the user config file that `skiff up`
// writes (WriteUserConfig).
//
// `get` decodes list responses item by item into small row structs and
// writes through a buffer, so listing 100,000 objects stays fast and small.
package cli
