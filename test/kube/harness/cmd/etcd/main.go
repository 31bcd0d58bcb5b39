// Command etcd is etcd's own server main, built at the version the
// Kubernetes API server of this module requires, for Skiff's
// Kubernetes-mode tests. It takes etcd's usual command-line flags.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
