// Command pause is the pod sandbox ("infra") process of the local test cluster: it holds the
// pod's namespaces, reaps zombies and exits on SIGINT/SIGTERM. Built statically by
// hack/cluster.sh into the offline image registry.k8s.io/pause:footprint.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
