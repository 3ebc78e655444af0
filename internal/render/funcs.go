package render

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"gopkg.in/yaml.v3"
)

// maxRepeat bounds repeat-like functions (see MaxOutput).
const maxRepeat = 1 << 20

// buildFuncs runs once, for baseTemplate: text/template copies the map
// into every template. Sprig's hermetic set leaves out env, random and
// clock functions, so a package compiles to the same bytes every time
// (re-running `add` must not report changes that aren't there).
func buildFuncs() template.FuncMap {
	f := sprig.HermeticTxtFuncMap()
	extra := template.FuncMap{
		"strings":  func() *StringsNS { return stringsNS },
		"toYaml":   toYAML,
		"toYAML":   toYAML,
		"required": required,
		"index":    strictIndex,
		"repeat":   func(n int, s string) (string, error) { return stringsNS.Repeat(n, s) },
		"until":    boundedUntil,
		fnGet:      safeGet,
		fnStep:     func() (string, error) { return "", nil }, // rebound per execution
		fnSafeIndex: func(item any, keys ...any) any {
			v, _ := indexValue(item, keys)
			return v
		},
		fnOut: func(v any) any {
			if v == nil {
				return ""
			}
			return v
		},
	}
	for name, fn := range extra {
		f[name] = fn
	}
	delete(f, "untilStep")
	return f
}

// toYAML renders a value as YAML with two-space indentation and no
// trailing newline, so it composes with indent/nindent.
func toYAML(v any) (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("toYaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("toYaml: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

type requiredError struct{ msg string }

func (e *requiredError) Error() string { return e.msg }

// required is gomplate's: `required [message] value` passes value through
// unless it is nil or "".
func required(args ...any) (any, error) {
	var msg string
	var v any
	switch len(args) {
	case 1:
		v = args[0]
	case 2:
		msg, v = toString(args[0]), args[1]
	default:
		return nil, fmt.Errorf("required takes a value and an optional message, got %d arguments", len(args))
	}
	if v == nil || v == "" {
		if msg == "" {
			msg = "a required value is missing or empty"
		}
		return nil, &requiredError{msg}
	}
	return v, nil
}

func boundedUntil(n int) ([]int, error) {
	if n > maxRepeat || n < -maxRepeat {
		return nil, fmt.Errorf("until %d: too large", n)
	}
	step := 1
	if n < 0 {
		step = -1
	}
	out := make([]int, 0, max(n, -n))
	for i := 0; i != n; i += step {
		out = append(out, i)
	}
	return out, nil
}

type indexMissingError struct{ key string }

func (e *indexMissingError) Error() string { return fmt.Sprintf("missing key %q", e.key) }

// strictIndex replaces the builtin index, which yields a zero value (and
// so "<no value>") for a missing map key.
func strictIndex(item any, keys ...any) (any, error) {
	return indexValue(item, keys)
}

func indexValue(item any, keys []any) (any, error) {
	cur := item
	for i, k := range keys {
		v := reflect.ValueOf(cur)
		for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
			v = v.Elem()
		}
		switch {
		case !v.IsValid():
			return nil, fmt.Errorf("index of a null value with key %v", k)
		case v.Kind() == reflect.Map:
			kv := reflect.ValueOf(k)
			if !kv.IsValid() || !kv.Type().AssignableTo(v.Type().Key()) {
				if !kv.IsValid() || !kv.Type().ConvertibleTo(v.Type().Key()) {
					return nil, fmt.Errorf("cannot index a map with %T", k)
				}
				kv = kv.Convert(v.Type().Key())
			}
			e := v.MapIndex(kv)
			if !e.IsValid() {
				return nil, &indexMissingError{joinAny(keys[:i+1])}
			}
			cur = e.Interface()
		case v.Kind() == reflect.Slice || v.Kind() == reflect.Array || v.Kind() == reflect.String:
			i, ok := toInt(k)
			if !ok {
				return nil, fmt.Errorf("cannot index a list with %T", k)
			}
			if i < 0 || i >= v.Len() {
				return nil, fmt.Errorf("index %d out of range (length %d)", i, v.Len())
			}
			cur = v.Index(i).Interface()
		default:
			return nil, fmt.Errorf("cannot index a %T", cur)
		}
	}
	return cur, nil
}

func joinAny(keys []any) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprint(k)
	}
	return strings.Join(parts, ".")
}

func toInt(k any) (int, bool) {
	v := reflect.ValueOf(k)
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int(v.Uint()), true
	}
	return 0, false
}

// safeGet walks keys from root and returns nil when any is missing.
func safeGet(root any, keys ...string) any {
	cur := root
	for _, k := range keys {
		next, ok := lookup(cur, k)
		if !ok {
			return nil
		}
		cur = next
	}
	return cur
}

// lookup reads one key of a map (any key type that k converts to) or one
// exported field of a struct.
func lookup(cur any, k string) (any, bool) {
	if m, ok := cur.(map[string]any); ok {
		v, ok := m[k]
		return v, ok
	}
	v := reflect.ValueOf(cur)
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return nil, false
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Map:
		kv := reflect.ValueOf(k)
		if !kv.Type().ConvertibleTo(v.Type().Key()) {
			for _, mk := range v.MapKeys() { // map[any]any from older YAML decoders
				if fmt.Sprint(mk.Interface()) == k {
					return v.MapIndex(mk).Interface(), true
				}
			}
			return nil, false
		}
		e := v.MapIndex(kv.Convert(v.Type().Key()))
		if !e.IsValid() {
			return nil, false
		}
		return e.Interface(), true
	case reflect.Struct:
		f := v.FieldByName(k)
		if !f.IsValid() || !f.CanInterface() {
			return nil, false
		}
		return f.Interface(), true
	}
	return nil, false
}

// toString converts like gomplate's conv.ToString: nil is "".
func toString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}
