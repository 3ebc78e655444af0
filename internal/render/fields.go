package render

import (
	"strings"
	"text/template/parse"
)

// Field is a reference from a template to its data, such as .dbHost or
// $.apps.db.host, as the catalog linter checks them.
type Field struct {
	Path []string
	Line int
	// Guarded is true when the value is only tested or defaulted
	// (default, required, empty, coalesce), so a missing key is fine.
	Guarded bool
}

// Fields parses text (starting at line `line` of file name) and returns
// every field reference rooted at the template's data. References inside
// range and with blocks, where the dot moves, are left out.
func Fields(name string, line int, text string) ([]Field, error) {
	if !strings.Contains(text, "{{") {
		return nil, nil
	}
	base, err := baseTemplate().Clone()
	if err != nil {
		return nil, err
	}
	t, err := base.New(name).Parse(text)
	if err != nil {
		return nil, parseError(name, line, err)
	}
	w := &fieldWalker{text: text, line: line}
	w.list(t.Tree.Root, true)
	return w.out, nil
}

type fieldWalker struct {
	text string
	line int
	out  []Field
}

func (w *fieldWalker) list(l *parse.ListNode, rooted bool) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			w.pipe(n.Pipe, rooted, false)
		case *parse.IfNode:
			w.pipe(n.Pipe, rooted, false)
			w.list(n.List, rooted)
			w.list(n.ElseList, rooted)
		case *parse.RangeNode:
			w.dotMoves(&n.BranchNode, rooted)
		case *parse.WithNode:
			w.dotMoves(&n.BranchNode, rooted)
		case *parse.TemplateNode:
			w.pipe(n.Pipe, rooted, false)
		}
	}
}

// dotMoves walks a range or with: inside, the dot is no longer the root.
func (w *fieldWalker) dotMoves(b *parse.BranchNode, rooted bool) {
	w.pipe(b.Pipe, rooted, false)
	w.list(b.List, false)
	w.list(b.ElseList, rooted)
}

func (w *fieldWalker) pipe(p *parse.PipeNode, rooted, guarded bool) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		if _, ok := tolerant[calledFunc(c)]; ok {
			guarded = true
		}
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			w.arg(a, rooted, guarded)
		}
	}
}

func (w *fieldWalker) arg(a parse.Node, rooted, guarded bool) {
	switch a := a.(type) {
	case *parse.FieldNode:
		if rooted {
			w.add(a.Ident, a.Pos, guarded)
		}
	case *parse.VariableNode:
		if len(a.Ident) > 1 && a.Ident[0] == "$" {
			w.add(a.Ident[1:], a.Pos, guarded)
		}
	case *parse.ChainNode:
		w.arg(a.Node, rooted, guarded)
	case *parse.PipeNode:
		w.pipe(a, rooted, guarded)
	}
}

func (w *fieldWalker) add(path []string, pos parse.Pos, guarded bool) {
	line := w.line + strings.Count(w.text[:min(int(pos), len(w.text))], "\n")
	w.out = append(w.out, Field{Path: path, Line: line, Guarded: guarded})
}
