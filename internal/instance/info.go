package instance

import (
	"fmt"
	"os"
)

// Info summarises an instance for listings.
type Info struct {
	Name       string `json:"name"`
	Current    bool   `json:"current"`
	Dir        string `json:"dir"`
	Domain     string `json:"domain,omitempty"`
	Kubeconfig bool   `json:"kubeconfig"`
	Apps       int    `json:"apps"`
}

// Describe returns the summary of instance name.
func (s *Store) Describe(name string) (Info, error) {
	inst, err := s.Open(name)
	if err != nil {
		return Info{}, err
	}
	info := Info{Name: name, Current: s.Current() == name, Dir: inst.Dir}
	if d, err := inst.GetConfig("cloud.domain"); err == nil {
		info.Domain = fmt.Sprint(d)
	}
	_, err = os.Stat(inst.Path(KubeconfigFile))
	info.Kubeconfig = err == nil
	if entries, err := os.ReadDir(inst.Path(AppsDir)); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				info.Apps++
			}
		}
	}
	return info, nil
}
