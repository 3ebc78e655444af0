package lifecycle

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/render"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// fillSecrets copies requiredSecrets from dependencies, then generates
// missing defaultSecrets. An existing secret is never replaced: a copy
// that differs from its source is kept, with a warning. Add, update and
// update --fresh all use it, so they agree on what a secret is.
func fillSecrets(eng *render.Engine, cfg, sec *yamldoc.Doc, app string, m *catalog.Manifest, installedAs map[string]string, appCfg map[string]any, warn func(string, ...any)) (copied, added []string, err error) {
	for _, req := range m.RequiredSecrets {
		ref, key, _ := strings.Cut(req, ".")
		dep := installedAs[ref]
		src := append([]string{"apps", dep}, strings.Split(key, ".")...)
		dst := append([]string{"apps", app}, strings.Split(req, ".")...)
		node, ok := sec.Get(src)
		cur, exists := sec.Get(dst)
		switch {
		case exists && ok && cur.Value != node.Value:
			warn("secret %s differs from its source %s; kept the existing value", strings.Join(dst, "."), strings.Join(src, "."))
			continue
		case exists:
			continue
		case !ok:
			return copied, nil, problem.New(problem.PreconditionFailed, fmt.Sprintf("%s needs secret %s from %s, but secrets.yaml has no %s", app, req, dep, strings.Join(src, "."))).
				With("app.add", "re-add it to generate it", "app", dep)
		}
		if err := sec.Set(dst, yamldoc.StringNode(node.Value)); err != nil {
			return copied, nil, err
		}
		copied = append(copied, strings.Join(dst, "."))
	}
	all, err := cfg.Map()
	if err != nil {
		return copied, nil, err
	}
	added, err = fillDefaultSecrets(eng, sec, app, m, newContext(all, installedAs), appCfg)
	return copied, added, err
}

// fillDefaultSecrets generates missing defaultSecrets: random ones first,
// then templated ones in order, so a template such as dbUrl can use a
// password generated in the same run.
func fillDefaultSecrets(eng *render.Engine, secrets *yamldoc.Doc, app string, m *catalog.Manifest, ctx Context, appCfg map[string]any) ([]string, error) {
	var added []string
	for _, templated := range []bool{false, true} {
		for _, s := range m.DefaultSecrets {
			if s.HasDefault != templated {
				continue
			}
			p := append([]string{"apps", app}, strings.Split(s.Key, ".")...)
			if _, exists := secrets.Get(p); exists {
				continue
			}
			val, err := secretValue(eng, secrets, app, m, s, ctx, appCfg)
			if err != nil {
				return added, err
			}
			if err := secrets.Set(p, yamldoc.StringNode(val)); err != nil {
				return added, err
			}
			added = append(added, strings.Join(p, "."))
		}
	}
	return added, nil
}

func secretValue(eng *render.Engine, secrets *yamldoc.Doc, app string, m *catalog.Manifest, s catalog.SecretDefault, ctx Context, appCfg map[string]any) (string, error) {
	if !s.HasDefault {
		return RandomSecret(32)
	}
	mine, _, err := secrets.Value([]string{"apps", app})
	if err != nil {
		return "", err
	}
	return eng.String(m.Name+"/manifest.yaml", s.Line, s.Default, ctx.data(appCfg, asMap(mine)))
}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomSecret returns n characters from crypto/rand. Letters and digits
// only, so the value is safe in URLs, shells and YAML without quoting.
func RandomSecret(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n*2)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// Rejection sampling keeps the distribution uniform: 248 is the
			// largest multiple of 62 below 256.
			if b < 248 && len(out) < n {
				out = append(out, secretAlphabet[int(b)%len(secretAlphabet)])
			}
		}
	}
	return string(out), nil
}
