package catalog

import (
	"fmt"
	"strings"
)

// DependencyOrder orders pkgs so that each comes after every package in
// pkgs of a type it requires, keeping the given order otherwise. A type
// no package in pkgs provides is left to the instance (an app already
// added), so it orders nothing. A cycle is an error naming its packages.
func DependencyOrder(pkgs []*Package) ([]*Package, error) {
	provided := map[string]bool{}
	for _, p := range pkgs {
		provided[p.Manifest.Is] = true
	}
	placed := map[string]bool{} // types whose every provider is placed
	var out []*Package
	left := pkgs
	for len(left) > 0 {
		var next []*Package
		for _, p := range left {
			if readyAfter(p, provided, placed) {
				out = append(out, p)
				continue
			}
			next = append(next, p)
		}
		if len(next) == len(left) {
			return nil, fmt.Errorf("apps %s require each other's types in a cycle; add them one at a time", strings.Join(Names(next), ", "))
		}
		for is := range provided {
			placed[is] = !pending(is, next)
		}
		left = next
	}
	return out, nil
}

func readyAfter(p *Package, provided, placed map[string]bool) bool {
	for _, r := range p.Manifest.Requires {
		if provided[r.Name] && !placed[r.Name] && r.Name != p.Manifest.Is {
			return false
		}
	}
	return true
}

// pending reports whether a package of type is is still to be placed.
func pending(is string, left []*Package) bool {
	for _, p := range left {
		if p.Manifest.Is == is {
			return true
		}
	}
	return false
}

// Names are the packages' names, in their order.
func Names(pkgs []*Package) []string {
	n := make([]string, len(pkgs))
	for i, p := range pkgs {
		n[i] = p.Name
	}
	return n
}
