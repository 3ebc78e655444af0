package kube

import (
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/wild-cloud/wild/internal/problem"
)

// Build runs Kustomize in-process on an app directory (the equivalent of
// `kubectl kustomize DIR`) and returns the objects in Kustomize's order.
func Build(dir string) ([]*unstructured.Unstructured, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, problem.New(problem.NotFound, fmt.Sprintf("app manifests folder %s not found", dir)).With("app.add", "add the app first", "app", "NAME")
	}
	if err := checkNoRemote(dir); err != nil {
		return nil, err
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build of %s failed: %w", dir, err)
	}
	out := make([]*unstructured.Unstructured, 0, resMap.Size())
	for _, res := range resMap.Resources() {
		// Through JSON, so numbers become int64/float64: kyaml's maps hold
		// Go ints, which unstructured's deep copy rejects with a panic.
		b, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build of %s: reading %s: %w", dir, res.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("kustomize build of %s: decoding %s: %w", dir, res.CurId(), err)
		}
		out = append(out, u)
	}
	return out, nil
}
