package render

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/Masterminds/goutils"
	"golang.org/x/text/unicode/norm"
)

// StringsNS is gomplate's strings.* namespace: `strings` is a function
// returning this value, and `strings.ToUpper .x` calls a method on it.
// Argument order follows gomplate (the input comes last) so that
// `.x | strings.TrimPrefix "v"` works in a pipe. Arguments are converted
// to strings the way gomplate does, so numbers work too.
type StringsNS struct{}

var stringsNS = &StringsNS{}

func (*StringsNS) ToLower(in any) string   { return strings.ToLower(toString(in)) }
func (*StringsNS) ToUpper(in any) string   { return strings.ToUpper(toString(in)) }
func (*StringsNS) TrimSpace(in any) string { return strings.TrimSpace(toString(in)) }
func (*StringsNS) Quote(in any) string     { return strconv.Quote(toString(in)) }

// Squote wraps in single quotes, doubling embedded ones (YAML style).
func (*StringsNS) Squote(in any) string {
	return "'" + strings.ReplaceAll(toString(in), "'", "''") + "'"
}

// ShellQuote makes a POSIX shell literal.
func (*StringsNS) ShellQuote(in any) string {
	return "'" + strings.ReplaceAll(toString(in), "'", `'"'"'`) + "'"
}

func (*StringsNS) Title(in any) string {
	s := []rune(toString(in))
	start := true
	for i, r := range s {
		if start && unicode.IsLetter(r) {
			s[i] = unicode.ToTitle(r)
		}
		start = unicode.IsSpace(r) || r == '-' || r == '_'
	}
	return string(s)
}

func (*StringsNS) Trim(cutset, in any) string {
	return strings.Trim(toString(in), toString(cutset))
}
func (*StringsNS) TrimLeft(cutset, in any) string {
	return strings.TrimLeft(toString(in), toString(cutset))
}
func (*StringsNS) TrimRight(cutset, in any) string {
	return strings.TrimRight(toString(in), toString(cutset))
}
func (*StringsNS) TrimPrefix(prefix, in any) string {
	return strings.TrimPrefix(toString(in), toString(prefix))
}
func (*StringsNS) TrimSuffix(suffix, in any) string {
	return strings.TrimSuffix(toString(in), toString(suffix))
}
func (*StringsNS) Contains(substr, in any) bool {
	return strings.Contains(toString(in), toString(substr))
}
func (*StringsNS) HasPrefix(prefix, in any) bool {
	return strings.HasPrefix(toString(in), toString(prefix))
}
func (*StringsNS) HasSuffix(suffix, in any) bool {
	return strings.HasSuffix(toString(in), toString(suffix))
}
func (*StringsNS) ReplaceAll(old, new, in any) string {
	return strings.ReplaceAll(toString(in), toString(old), toString(new))
}

// Replace is ReplaceAll; gomplate has no count-limited form.
func (ns *StringsNS) Replace(old, new, in any) string { return ns.ReplaceAll(old, new, in) }

func (*StringsNS) Split(sep, in any) []string {
	return strings.Split(toString(in), toString(sep))
}

func (*StringsNS) SplitN(sep any, n int, in any) []string {
	return strings.SplitN(toString(in), toString(sep), n)
}

func (*StringsNS) Repeat(count int, in any) (string, error) {
	s := toString(in)
	if count < 0 {
		return "", fmt.Errorf("strings.Repeat: negative count %d", count)
	}
	if count > 0 && len(s) > maxRepeat/count {
		return "", fmt.Errorf("strings.Repeat: result too large")
	}
	return strings.Repeat(s, count), nil
}

// Trunc cuts in to at most length bytes.
func (*StringsNS) Trunc(length int, in any) string {
	s := toString(in)
	if length < 0 || len(s) <= length {
		return s
	}
	return s[:length]
}

// Abbrev is `strings.Abbrev [offset] width input`.
func (*StringsNS) Abbrev(args ...any) (string, error) {
	switch len(args) {
	case 2:
		w, ok := toInt(args[0])
		if !ok {
			return "", fmt.Errorf("strings.Abbrev: width must be a number")
		}
		return goutils.Abbreviate(toString(args[1]), w)
	case 3:
		o, ok1 := toInt(args[0])
		w, ok2 := toInt(args[1])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("strings.Abbrev: offset and width must be numbers")
		}
		return goutils.AbbreviateFull(toString(args[2]), o, w)
	}
	return "", fmt.Errorf("strings.Abbrev: want [offset] width input, got %d arguments", len(args))
}

// Indent is `strings.Indent [width] [indent] input`: every line gets
// width copies of indent (default one space).
func (*StringsNS) Indent(args ...any) (string, error) {
	width, indent := 1, " "
	var in any
	switch len(args) {
	case 1:
		in = args[0]
	case 2:
		if w, ok := toInt(args[0]); ok {
			width = w
		} else {
			indent = toString(args[0])
		}
		in = args[1]
	case 3:
		w, ok := toInt(args[0])
		if !ok {
			return "", fmt.Errorf("strings.Indent: width must be a number")
		}
		width, indent, in = w, toString(args[1]), args[2]
	default:
		return "", fmt.Errorf("strings.Indent: want [width] [indent] input, got %d arguments", len(args))
	}
	if width < 0 || width > 1024 {
		return "", fmt.Errorf("strings.Indent: width %d out of range", width)
	}
	if strings.Contains(indent, "\n") {
		return "", fmt.Errorf("strings.Indent: indent must not contain a newline")
	}
	pad := strings.Repeat(indent, width)
	var b strings.Builder
	bol := true
	for _, r := range toString(in) {
		if bol && r != '\n' {
			b.WriteString(pad)
		}
		b.WriteRune(r)
		bol = r == '\n'
	}
	return b.String(), nil
}

// Slug makes a URL/DNS friendly string: "Héllo, World!" -> "hello-world".
func (*StringsNS) Slug(in any) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(toString(in)) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(unicode.ToLower(r))
		default:
			dash = true
		}
	}
	return b.String()
}

func (*StringsNS) RuneCount(args ...any) int {
	n := 0
	for _, a := range args {
		n += len([]rune(toString(a)))
	}
	return n
}

// SkipLines drops the first n lines.
func (*StringsNS) SkipLines(n int, in any) (string, error) {
	if n < 0 {
		return "", fmt.Errorf("strings.SkipLines: negative count %d", n)
	}
	s := toString(in)
	for range n {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return "", nil
		}
		s = s[i+1:]
	}
	return s, nil
}

func (*StringsNS) CamelCase(in any) string {
	w := words(toString(in))
	for i := 1; i < len(w); i++ {
		w[i] = upperFirst(strings.ToLower(w[i]))
	}
	return strings.Join(w, "")
}

func (ns *StringsNS) SnakeCase(in any) string { return joinWords(toString(in), "_") }
func (ns *StringsNS) KebabCase(in any) string { return joinWords(toString(in), "-") }

func joinWords(s, sep string) string {
	w := words(s)
	for i := 1; i < len(w); i++ {
		w[i] = strings.ToLower(w[i])
	}
	return strings.Join(w, sep)
}

// words splits on anything that is not a letter or digit, and before an
// upper-case letter that follows a lower-case one (camelCase).
func words(s string) []string {
	var out []string
	var cur []rune
	var prev rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = nil
		}
	}
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return out
}

func upperFirst(s string) string {
	r := []rune(s)
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	return string(r)
}

// WordWrap is `strings.WordWrap [width] input` (default width 80).
func (*StringsNS) WordWrap(args ...any) (string, error) {
	width, in := 80, any(nil)
	switch len(args) {
	case 1:
		in = args[0]
	case 2:
		w, ok := toInt(args[0])
		if !ok || w < 1 {
			return "", fmt.Errorf("strings.WordWrap: width must be a positive number")
		}
		width, in = w, args[1]
	default:
		return "", fmt.Errorf("strings.WordWrap: want [width] input, got %d arguments", len(args))
	}
	return goutils.Wrap(toString(in), width), nil
}
