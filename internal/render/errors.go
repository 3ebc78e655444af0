package render

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	redactpkg "github.com/wild-cloud/wild/internal/redact"
)

// parseError turns text/template's "template: NAME:LINE: msg" into an
// *Error whose line counts from the start of the file.
func parseError(name string, line int, err error) error {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "template: "+name+":")
	if !ok {
		return &Error{File: name, Line: line, Msg: "template syntax error: " + msg, Err: err}
	}
	l, rest := leadingInt(rest)
	if _, after, ok := strings.Cut(rest, ":"); ok && len(after) > 0 && after[0] >= '0' && after[0] <= '9' {
		_, rest = leadingInt(after) // some errors add a column
	}
	rest = strings.TrimPrefix(strings.TrimPrefix(rest, ":"), " ")
	return &Error{File: name, Line: line + max(l, 1) - 1, Msg: "template syntax error: " + rest, Err: err}
}

// leadingInt splits "12:rest" into 12 and ":rest".
func leadingInt(s string) (int, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, _ := strconv.Atoi(s[:i])
	return n, s[i:]
}

// execError rewrites an execution error. text/template truncates the
// expression in its message to 20 characters, so the failing node is
// found again in the parse tree by its position, and the full dotted key
// is rebuilt from it.
func execError(t *template.Template, name string, line int, text string, data any, err error) error {
	if errors.Is(err, errTooLarge) {
		return &Error{File: name, Line: line, Msg: err.Error(), Err: err}
	}
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "template: "+name+":")
	if !ok {
		return &Error{File: name, Line: line, Msg: msg, Err: err}
	}
	l, rest := leadingInt(rest)
	c, rest := leadingInt(strings.TrimPrefix(rest, ":"))
	loc := fmt.Sprintf("%s:%d:%d", name, l, c)
	e := &Error{File: name, Line: line + max(l, 1) - 1, Err: err}

	tree, node := findNode(t, loc)
	detail := rest
	if node != nil {
		_, ctx := tree.ErrorContext(node)
		if _, after, ok := strings.Cut(rest, " at <"+ctx+">: "); ok {
			detail = after
		}
		e.Expr = node.String()
	} else if _, after, ok := strings.Cut(rest, ">: "); ok {
		detail = after
	}
	fields, rooted := chainFields(node)

	var req *requiredError
	var idx *indexMissingError
	switch {
	case errors.As(err, &req):
		e.Msg = req.msg
		if k := argChainKey(node); k != "" {
			e.Key = k
		}
	case errors.As(err, &idx):
		base := ""
		if cmd, ok := node.(*parse.CommandNode); ok && len(cmd.Args) > 1 {
			f, _ := chainFields(cmd.Args[1])
			base = strings.Join(f, ".")
		}
		e.Key = joinKey(base, idx.key)
		e.Msg = fmt.Sprintf("missing key %q (in %s)", e.Key, e.Expr)
		e.Err = ErrMissingKey
	case strings.HasPrefix(detail, "map has no entry for key "):
		k, _ := strconv.Unquote(strings.TrimPrefix(detail, "map has no entry for key "))
		e.Key = keyPath(fields, k, data, rooted)
		e.Msg = fmt.Sprintf("missing key %q (in %s)", e.Key, e.Expr)
		e.Err = ErrMissingKey
	case strings.HasPrefix(detail, "nil pointer evaluating"):
		e.Key = strings.Join(fields, ".")
		e.Msg = fmt.Sprintf("cannot read key %q: a value on its path is null (in %s)", e.Key, e.Expr)
	case strings.HasPrefix(detail, "can't evaluate field"):
		e.Key = strings.Join(fields, ".")
		e.Msg = fmt.Sprintf("cannot read key %q: a value on its path is not a map (in %s)", e.Key, e.Expr)
	case node != nil:
		e.Msg = fmt.Sprintf("%s (in %s)", detail, e.Expr)
	default:
		e.Msg = detail
	}
	return e
}

func joinKey(base, k string) string {
	if base == "" {
		return k
	}
	return base + "." + k
}

// keyPath finds which element of a field chain was missing. When the
// chain starts at the root data, walking the data says exactly; inside
// range/with the dot is elsewhere, so fall back to the last element
// carrying that name.
func keyPath(fields []string, missing string, data any, rooted bool) string {
	if rooted {
		cur := data
		for i, f := range fields {
			next, ok := lookup(cur, f)
			if !ok {
				if f == missing {
					return strings.Join(fields[:i+1], ".")
				}
				break
			}
			cur = next
		}
	}
	for i := len(fields) - 1; i >= 0; i-- {
		if fields[i] == missing {
			return strings.Join(fields[:i+1], ".")
		}
	}
	return missing
}

// chainFields returns the field names of .a.b.c or $.a.b.c, and whether
// the chain is known to start at the root data ($ always is; . is at the
// top level, which keyPath double-checks against the data).
func chainFields(n parse.Node) ([]string, bool) {
	switch n := n.(type) {
	case *parse.FieldNode:
		return n.Ident, true
	case *parse.VariableNode:
		if len(n.Ident) > 0 && n.Ident[0] == "$" {
			return n.Ident[1:], true
		}
		if len(n.Ident) > 0 {
			return n.Ident[1:], false
		}
	case *parse.ChainNode:
		return n.Field, false
	case *parse.CommandNode:
		if len(n.Args) == 1 {
			return chainFields(n.Args[0])
		}
	}
	return nil, false
}

// argChainKey names the value a `required` call tested: its last argument.
func argChainKey(n parse.Node) string {
	cmd, ok := n.(*parse.CommandNode)
	if !ok || len(cmd.Args) == 0 {
		return ""
	}
	last := cmd.Args[len(cmd.Args)-1]
	if p, ok := last.(*parse.PipeNode); ok && len(p.Cmds) == 1 {
		// a rewritten safe lookup: __wildGet . "a" "b"
		var keys []string
		for _, a := range p.Cmds[0].Args[2:] {
			if s, ok := a.(*parse.StringNode); ok {
				keys = append(keys, s.Text)
			}
		}
		return strings.Join(keys, ".")
	}
	f, _ := chainFields(last)
	return strings.Join(f, ".")
}

// findNode returns the node whose error location is loc, preferring the
// most specific one (a field chain over the command holding it).
func findNode(t *template.Template, loc string) (*parse.Tree, parse.Node) {
	var bestTree *parse.Tree
	var best parse.Node
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		walk(tt.Tree.Root, func(n parse.Node) {
			if l, _ := tt.Tree.ErrorContext(n); l != loc {
				return
			}
			if best == nil || specificity(n) > specificity(best) {
				bestTree, best = tt.Tree, n
			}
		})
	}
	return bestTree, best
}

func specificity(n parse.Node) int {
	switch n.(type) {
	case *parse.FieldNode, *parse.VariableNode, *parse.ChainNode:
		return 3
	case *parse.CommandNode:
		return 2
	case *parse.IdentifierNode:
		return 1
	}
	return 0
}

// walk visits every node under n.
func walk(n parse.Node, visit func(parse.Node)) {
	if n == nil {
		return
	}
	visit(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, visit)
		}
	case *parse.ActionNode:
		walkPipe(n.Pipe, visit)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, visit)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, visit)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, visit)
	case *parse.TemplateNode:
		walkPipe(n.Pipe, visit)
	case *parse.PipeNode:
		for _, c := range n.Cmds {
			walk(c, visit)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, visit)
		}
	case *parse.ChainNode:
		walk(n.Node, visit)
	}
}

func walkPipe(p *parse.PipeNode, visit func(parse.Node)) {
	if p != nil {
		walk(p, visit)
	}
}

func walkBranch(b *parse.BranchNode, visit func(parse.Node)) {
	walkPipe(b.Pipe, visit)
	if b.List != nil {
		walk(b.List, visit)
	}
	if b.ElseList != nil {
		walk(b.ElseList, visit)
	}
}

// redact removes from err every secret value the template could see
// (leaves under .secrets): a failing {{ range .secrets.pw }} or
// {{ toDate .secrets.pw }} quotes the value in text/template's message.
func redact(err error, data any) error {
	m, _ := data.(map[string]any)
	values := redactpkg.Values(m["secrets"])
	if len(values) == 0 {
		return err
	}
	return RedactError(err, values)
}

// RedactError returns err with every occurrence of values replaced. It
// keeps *Error's fields and errors.Is working, but no longer unwraps to
// the original message.
func RedactError(err error, values []string) error {
	if err == nil {
		return nil
	}
	scrub := func(s string) string { return redactpkg.String(s, values) }
	if e, ok := err.(*Error); ok {
		c := *e
		c.Msg, c.Expr, c.Key = scrub(e.Msg), scrub(e.Expr), scrub(e.Key)
		if e.Err != nil {
			c.Err = &scrubbed{msg: scrub(e.Err.Error()), orig: e.Err}
		}
		return &c
	}
	if msg := scrub(err.Error()); msg != err.Error() {
		return &scrubbed{msg: msg, orig: err}
	}
	return err
}

type scrubbed struct {
	msg  string
	orig error
}

func (s *scrubbed) Error() string { return s.msg }

// Is keeps errors.Is(err, ErrMissingKey) and the like working.
func (s *scrubbed) Is(target error) bool { return errors.Is(s.orig, target) }
