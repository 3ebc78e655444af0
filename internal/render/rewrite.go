package render

import (
	"strconv"
	"text/template/parse"
)

// Functions whose whole point is to cope with an absent value. A field
// chain passed to them (as an argument or through a pipe) is evaluated
// with a lookup that yields nil instead of failing, so
// {{ .x | default "y" }} renders "y" when .x is missing, as users expect.
// arg: which arguments to make safe (-1 = the last one, 0 = all).
var tolerant = map[string]int{
	"default":  -1,
	"required": -1,
	"empty":    0,
	"coalesce": 0,
}

const (
	fnGet       = "__wildGet"
	fnSafeIndex = "__wildIndex"
	fnOut       = "__wildOut"
	fnStep      = "__wildStep"
)

// rewrite edits a parsed tree in place: tolerant functions get safe
// lookups, and every printing action ends in fnOut so a null never prints
// as "<no value>".
func rewrite(t *parse.Tree) {
	walk(t.Root, func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ActionNode:
			if len(n.Pipe.Decl) == 0 && !n.Pipe.IsAssign {
				n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
					NodeType: parse.NodeCommand, Pos: n.Pos,
					Args: []parse.Node{ident(fnOut, n.Pos)},
				})
			}
		case *parse.PipeNode:
			rewritePipe(n)
		}
	})
}

// addSteps puts a call to fnStep at the start of every loop body and of
// the template itself (so recursion through {{ template }} counts too).
// text/template has no limit of its own: an empty nested range over a
// million items runs forever, holding the instance locks.
func addSteps(t *parse.Tree) {
	var lists []*parse.ListNode
	if t.Root != nil {
		lists = append(lists, t.Root)
	}
	walk(t.Root, func(n parse.Node) {
		if r, ok := n.(*parse.RangeNode); ok && r.List != nil {
			lists = append(lists, r.List)
		}
	})
	for _, l := range lists {
		step := &parse.ActionNode{NodeType: parse.NodeAction, Pos: l.Pos, Pipe: &parse.PipeNode{
			NodeType: parse.NodePipe, Pos: l.Pos,
			Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Pos: l.Pos, Args: []parse.Node{ident(fnStep, l.Pos)}}},
		}}
		l.Nodes = append([]parse.Node{step}, l.Nodes...)
	}
}

func rewritePipe(p *parse.PipeNode) {
	for i, cmd := range p.Cmds {
		fn := calledFunc(cmd)
		which, ok := tolerant[fn]
		if !ok {
			continue
		}
		args := cmd.Args[1:]
		switch {
		case which == 0:
			for j := range args {
				args[j] = safe(args[j])
			}
		case len(args) > 0 && i == 0:
			args[len(args)-1] = safe(args[len(args)-1])
		}
		// .x | default "y": the piped value is the last argument.
		if i > 0 {
			prev := p.Cmds[i-1]
			if len(prev.Args) == 1 {
				prev.Args[0] = safe(prev.Args[0])
			} else if calledFunc(prev) == "index" {
				prev.Args[0] = ident(fnSafeIndex, prev.Args[0].Position())
				prev.Args[1] = safe(prev.Args[1])
			}
		}
	}
}

func calledFunc(cmd *parse.CommandNode) string {
	if len(cmd.Args) == 0 {
		return ""
	}
	if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
		return id.Ident
	}
	return ""
}

// safe replaces a field chain with (__wildGet ROOT "a" "b"), and an index
// call with its tolerant twin. Anything else is left as is.
func safe(n parse.Node) parse.Node {
	pos := n.Position()
	var root parse.Node
	var keys []string
	switch n := n.(type) {
	case *parse.FieldNode:
		root, keys = &parse.DotNode{NodeType: parse.NodeDot, Pos: pos}, n.Ident
	case *parse.VariableNode:
		if len(n.Ident) < 2 {
			return n
		}
		root = &parse.VariableNode{NodeType: parse.NodeVariable, Pos: pos, Ident: n.Ident[:1]}
		keys = n.Ident[1:]
	case *parse.PipeNode:
		if len(n.Decl) == 0 && len(n.Cmds) == 1 {
			c := n.Cmds[0]
			if len(c.Args) == 1 {
				c.Args[0] = safe(c.Args[0])
			} else if calledFunc(c) == "index" {
				c.Args[0] = ident(fnSafeIndex, pos)
				c.Args[1] = safe(c.Args[1])
			}
		}
		return n
	default:
		return n
	}
	args := []parse.Node{ident(fnGet, pos), root}
	for _, k := range keys {
		args = append(args, &parse.StringNode{NodeType: parse.NodeString, Pos: pos, Quoted: strconv.Quote(k), Text: k})
	}
	return &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Cmds: []*parse.CommandNode{
		{NodeType: parse.NodeCommand, Pos: pos, Args: args},
	}}
}

func ident(name string, pos parse.Pos) *parse.IdentifierNode {
	return parse.NewIdentifier(name).SetPos(pos)
}
