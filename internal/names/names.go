// Package names validates names that become file paths or Kubernetes names.
package names

import (
	"fmt"

	"github.com/wild-cloud/wild/internal/lazyre"
)

var label = lazyre.New(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate checks that name is a DNS-1123 label: lower case letters, digits
// and '-', starting and ending with a letter or digit, at most 63
// characters. That rules out '/', '..' and anything else that could escape
// a directory. kind names the thing in errors ("app", "instance", "alias").
func Validate(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s name is empty", kind)
	case len(name) > 63:
		return fmt.Errorf("%s name %q is %d characters long; the limit is 63", kind, truncate(name), len(name))
	case !label().MatchString(name):
		return fmt.Errorf("invalid %s name %q: use lower-case letters, digits and '-', starting and ending with a letter or digit (no '/', '..' or upper case)", kind, truncate(name))
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 70 {
		return s[:67] + "..."
	}
	return s
}

// IsReservedNamespace reports a namespace no app may use: the cluster's
// own (kube-*) and default.
func IsReservedNamespace(ns string) bool {
	return ns == "default" || len(ns) >= 5 && ns[:5] == "kube-"
}

// ValidateNamespace checks an app's namespace: a DNS-1123 label that is
// not reserved.
func ValidateNamespace(app, ns string) error {
	if err := Validate("namespace", ns); err != nil {
		return fmt.Errorf("app %s: %w", app, err)
	}
	if IsReservedNamespace(ns) {
		return fmt.Errorf("app %s may not use the system namespace %s; give it its own, e.g. --set namespace=%s", app, ns, app)
	}
	return nil
}
