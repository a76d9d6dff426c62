// kube-controller-manager of the pinned release (garbage collection, Deployments, ReplicaSets, service account tokens, node CIDRs).
package main

import (
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
	"os"
	_ "time/tzdata"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
