package api

import (
	"os"
	"sync"
	"time"

	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
)

// clients keeps one cluster client per instance, so reads the UI makes
// constantly reuse connections and cached discovery instead of building
// both per request. A changed kubeconfig gets a new client.
type clients struct {
	mu sync.Mutex
	m  map[string]cachedClient
}

type cachedClient struct {
	path string
	mod  time.Time
	c    *kube.Client
}

// For returns the instance's client, nil when it has no kubeconfig (the
// service layer then reports that itself).
func (cs *clients) For(inst *instance.Instance) *kube.Client {
	path, err := inst.Kubeconfig()
	if err != nil {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cc, ok := cs.m[inst.Dir]; ok && cc.path == path && cc.mod.Equal(st.ModTime()) {
		return cc.c
	}
	c, err := kube.NewClient(path)
	if err != nil {
		return nil
	}
	if cs.m == nil {
		cs.m = map[string]cachedClient{}
	}
	cs.m[inst.Dir] = cachedClient{path: path, mod: st.ModTime(), c: c}
	return c
}
