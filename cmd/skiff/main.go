// Command skiff is the whole platform in one binary: `skiff up` runs the
// control plane, every other subcommand is the CLI that talks to it.
package main

import (
	"fmt"
	"os"

	"skiff.dev/skiff/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v0.1.0-dev"

func main() {
	root := cli.NewRoot(version, upCommand(), operatorCommand(), shimCommand(), benchCommand(), simCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
