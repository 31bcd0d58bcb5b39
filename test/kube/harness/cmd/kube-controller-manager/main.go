// Command kube-controller-manager is the Kubernetes controller manager
// (garbage collection through owner references, namespace deletion), built
// from k8s.io/kubernetes for Skiff's Kubernetes-mode tests.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
