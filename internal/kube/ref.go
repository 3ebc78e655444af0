package kube

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// ObjectRef identifies one object. Version is kept so that a pruned object
// can be fetched again; identity is Group/Kind/Namespace/Name.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// RefOf returns the reference of an object.
func RefOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// String renders Kind/name or Kind/namespace/name, the form used in messages.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return fmt.Sprintf("%s/%s/%s", r.Kind, r.Namespace, r.Name)
}

// Key is the version-independent identity of the object.
func (r ObjectRef) Key() string {
	return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

// GVK returns the group, version and kind.
func (r ObjectRef) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

var errUnknownKind = errors.New("the cluster does not know kind")

// mapping resolves the REST endpoint of a kind, refreshing discovery once
// when the kind is unknown (typically a CRD applied a moment ago).
func (c *Client) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	if m, ok := builtinMappings[gvk]; ok {
		return &m, nil
	}
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.Mapper.Reset()
		m, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("%w %s (%s); is its CRD installed?", errUnknownKind, gvk.Kind, gvk.GroupVersion())
		}
		return nil, c.wrap(err)
	}
	return m, nil
}

// resource returns the dynamic client for a reference, scoped to its
// namespace when the kind is namespaced.
func (c *Client) resource(ref ObjectRef) (dynamic.ResourceInterface, error) {
	m, err := c.mapping(ref.GVK())
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if ref.Namespace == "" {
			return nil, fmt.Errorf("%s has no namespace; set metadata.namespace or a kustomize namespace", ref)
		}
		return c.Dynamic.Resource(m.Resource).Namespace(ref.Namespace), nil
	}
	return c.Dynamic.Resource(m.Resource), nil
}
