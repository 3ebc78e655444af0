// Command devcluster is every control-plane and node component of the
// local cluster in one multi-call binary, as k3s and busybox do: one link
// instead of six on a cold build, and one copy of the shared code in
// memory. It runs the component named by the base name of argv[0], so the
// bin dir holds a symlink per component (kube-apiserver -> devcluster), or
// the one named by its first argument (devcluster kube-apiserver ...).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

// components maps each name the build links in the bin dir to its main.
// A Kubernetes command is built only when chosen, because building it
// registers flags and defaults.
var components = map[string]func() int{
	"etcd":                    runEtcd,
	"kube-apiserver":          func() int { return cli.Run(apiserver.NewAPIServerCommand()) },
	"kube-controller-manager": func() int { return cli.Run(controllermanager.NewControllerManagerCommand()) },
	"kube-scheduler":          func() int { return cli.Run(scheduler.NewSchedulerCommand()) },
	"kubelet":                 func() int { return cli.Run(kubelet.NewKubeletCommand()) },
	"kube-proxy":              func() int { return cli.Run(proxy.NewProxyCommand()) },
}

func main() {
	name, args := filepath.Base(os.Args[0]), os.Args[1:]
	run, ok := components[name]
	if !ok && len(args) > 0 {
		name, args = args[0], args[1:]
		run, ok = components[name]
	}
	if !ok {
		fmt.Fprintf(os.Stderr, "devcluster: unknown component %q; call it as one of: %s\n", name, strings.Join(names(), ", "))
		os.Exit(2)
	}
	// The components read their arguments from os.Args, as their own
	// mains would.
	os.Args = append([]string{name}, args...)
	os.Exit(run())
}

func names() []string {
	var ns []string
	for n := range components {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}
