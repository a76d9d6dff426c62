// kubelet of the pinned Kubernetes release: the node agent of the test environment's node cluster.
package main

import (
	"context"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kubelet/app"
	"os"
)

func main() {
	os.Exit(cli.Run(app.NewKubeletCommand(context.Background())))
}
