package runtime

import (
	"fmt"
	"strings"
)

// Describer is implemented by operator factories' operators that can say
// what they do and what state they keep, for Explain. It is optional.
type Describer interface {
	Describe() string
}

// Explain returns the physical plan of g as text: every operator with its
// parallelism, how its inputs arrive (forward and chained into the
// upstream's goroutine, or hashed on key columns, …), the watermark
// strategy of each source, and what the operators say about themselves
// (Describer) — their expressions and state.
func (g *Graph) Explain(defaultParallelism int) string {
	par := func(n *NodeSpec) int {
		if n.Parallelism > 0 {
			return n.Parallelism
		}
		return defaultParallelism
	}
	incoming := make([][]*EdgeSpec, len(g.Nodes))
	for _, e := range g.Edges {
		incoming[e.To] = append(incoming[e.To], e)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "job %q\n", g.Name)
	for _, n := range g.topo() {
		kind := "operator"
		if n.NewSource != nil {
			kind = "source"
		}
		fmt.Fprintf(&b, "%s %q, parallelism %d\n", kind, n.Name, par(n))
		fmt.Fprintf(&b, "    output: %s\n", n.Schema)
		if n.NewSource != nil {
			if w := n.Watermarks; w.TimeColumn >= 0 && w.TimeColumn < n.Schema.Len() {
				fmt.Fprintf(&b, "    watermark: %s - %v per partition, minimum over partitions", n.Schema.Fields[w.TimeColumn].Name, w.MaxOutOfOrderness)
				if w.IdleTimeout > 0 {
					fmt.Fprintf(&b, ", idle after %v", w.IdleTimeout)
				}
				b.WriteString("\n")
			} else {
				b.WriteString("    watermark: none\n")
			}
		}
		for _, e := range incoming[n.ID] {
			from := g.Nodes[e.From]
			schema := from.Schema
			port := ""
			if e.FromPort > 0 {
				schema = from.SideSchemas[e.FromPort-1]
				port = fmt.Sprintf(" (side output %d)", e.FromPort)
			}
			how := e.Part.String()
			switch {
			case e.Part == Forward && len(incoming[n.ID]) == 1:
				how = "FORWARD, chained into the same goroutine"
			case e.Part == Keyed:
				var keys []string
				for _, c := range e.KeyCols {
					keys = append(keys, schema.Fields[c].Name)
				}
				how = fmt.Sprintf("HASH(%s) over %d key groups", strings.Join(keys, ", "), MaxKeyGroups)
			}
			input := ""
			if n.Inputs > 1 {
				input = fmt.Sprintf(" as input %d", e.ToInput)
			}
			fmt.Fprintf(&b, "    from %q%s%s: %s\n", from.Name, port, input, how)
		}
		if n.NewOperator != nil {
			if d, ok := n.NewOperator().(Describer); ok {
				for _, line := range strings.Split(strings.TrimRight(d.Describe(), "\n"), "\n") {
					fmt.Fprintf(&b, "    %s\n", line)
				}
			}
		}
	}
	return b.String()
}

// topo returns the nodes in a topological order (sources first), stable
// with respect to the order they were added.
func (g *Graph) topo() []*NodeSpec {
	indeg := make([]int, len(g.Nodes))
	for _, e := range g.Edges {
		indeg[e.To]++
	}
	var out []*NodeSpec
	done := make([]bool, len(g.Nodes))
	for len(out) < len(g.Nodes) {
		progress := false
		for _, n := range g.Nodes {
			if done[n.ID] || indeg[n.ID] > 0 {
				continue
			}
			done[n.ID] = true
			progress = true
			out = append(out, n)
			for _, e := range g.Edges {
				if e.From == n.ID {
					indeg[e.To]--
				}
			}
		}
		if !progress { // a cycle: list the rest as they are
			for _, n := range g.Nodes {
				if !done[n.ID] {
					out = append(out, n)
				}
			}
			break
		}
	}
	return out
}
