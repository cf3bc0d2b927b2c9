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

// PhysicalPlan is the physical plan of a graph as data: what Explain
// prints, in a form to marshal as JSON.
type PhysicalPlan struct {
	Job string `json:"job"`
	// Parallelism is the job's default; each operator has its own.
	Parallelism int `json:"parallelism"`
	// Settings are the job's settings (SQL SET statements and what
	// overrides them); the graph itself has none, sql.Plan adds them.
	Settings  []string       `json:"settings,omitempty"`
	Operators []PlanOperator `json:"operators"`
}

// PlanOperator is one operator or source of a PhysicalPlan.
type PlanOperator struct {
	ID          int            `json:"id"`
	Name        string         `json:"name"`
	Kind        string         `json:"kind"` // "source" or "operator"
	Parallelism int            `json:"parallelism"`
	Output      []PlanColumn   `json:"output"`
	Watermark   *PlanWatermark `json:"watermark,omitempty"` // sources with event time
	Inputs      []PlanInput    `json:"inputs,omitempty"`
	// State is what the operator keeps (its Describer's "state:" line).
	State string `json:"state,omitempty"`
	// Details are the other lines its Describer gives: expressions,
	// windows, aggregates, what happens to late rows, ….
	Details []string `json:"details,omitempty"`

	schema   *Schema
	inputs   int      // logical inputs (NodeSpec.Inputs)
	describe []string // every Describer line, in order
}

// PlanColumn is a column of an operator's output.
type PlanColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// PlanWatermark is a source's watermark strategy.
type PlanWatermark struct {
	Column              string `json:"column"`
	MaxOutOfOrdernessMs int64  `json:"max_out_of_orderness_ms"`
	IdleTimeoutMs       int64  `json:"idle_timeout_ms,omitempty"`

	maxOutOfOrderness, idleTimeout string
}

// PlanInput is an edge into an operator.
type PlanInput struct {
	From       int    `json:"from"` // the upstream operator's id
	FromName   string `json:"from_name"`
	SideOutput int    `json:"side_output,omitempty"` // the upstream's port, 0: its main output
	Input      int    `json:"input"`                 // which of the operator's inputs
	Edge       string `json:"edge"`                  // FORWARD, HASH, REBALANCE or GLOBAL
	// Chained: a forward edge into an operator with one input runs in the
	// upstream's goroutine, with no channel between them.
	Chained    bool     `json:"chained"`
	KeyColumns []string `json:"key_columns,omitempty"` // HASH: the upstream's key columns
	KeyGroups  int      `json:"key_groups,omitempty"`  // HASH: key groups the keys hash into
	// KeyedByInput: HASH, whose rows of one key all come from one
	// partition of the job's input (EdgeSpec.KeyedByInput).
	KeyedByInput bool `json:"keyed_by_input,omitempty"`
}

// Physical returns the physical plan of g: its operators in topological
// order (sources first), each with its parallelism (defaultParallelism
// where it has none of its own), output, watermark strategy, inputs and
// what it says about itself (Describer).
func (g *Graph) Physical(defaultParallelism int) PhysicalPlan {
	incoming := make([][]*EdgeSpec, len(g.Nodes))
	for _, e := range g.Edges {
		incoming[e.To] = append(incoming[e.To], e)
	}
	plan := PhysicalPlan{Job: g.Name, Parallelism: defaultParallelism, Operators: []PlanOperator{}}
	for _, n := range g.topo() {
		op := PlanOperator{ID: int(n.ID), Name: n.Name, Kind: "operator", Parallelism: n.Parallelism, schema: n.Schema,
			inputs: n.Inputs, Output: []PlanColumn{}}
		if op.Parallelism <= 0 {
			op.Parallelism = defaultParallelism
		}
		for _, f := range n.Schema.Fields {
			op.Output = append(op.Output, PlanColumn{Name: f.Name, Type: f.Type.String(), Nullable: f.Nullable})
		}
		if n.NewSource != nil {
			op.Kind = "source"
			if w := n.Watermarks; w.TimeColumn >= 0 && w.TimeColumn < n.Schema.Len() {
				op.Watermark = &PlanWatermark{Column: n.Schema.Fields[w.TimeColumn].Name,
					MaxOutOfOrdernessMs: w.MaxOutOfOrderness.Milliseconds(), IdleTimeoutMs: w.IdleTimeout.Milliseconds(),
					maxOutOfOrderness: w.MaxOutOfOrderness.String(), idleTimeout: w.IdleTimeout.String()}
				if w.IdleTimeout <= 0 {
					op.Watermark.idleTimeout = ""
				}
			}
		}
		for _, e := range incoming[n.ID] {
			from := g.Nodes[e.From]
			schema := from.Schema
			if e.FromPort > 0 {
				schema = from.SideSchemas[e.FromPort-1]
			}
			in := PlanInput{From: int(from.ID), FromName: from.Name, SideOutput: e.FromPort, Input: e.ToInput,
				Edge: e.Part.String(), Chained: e.Part == Forward && len(incoming[n.ID]) == 1}
			if e.Part == Keyed {
				for _, c := range e.KeyCols {
					in.KeyColumns = append(in.KeyColumns, schema.Fields[c].Name)
				}
				in.KeyGroups = MaxKeyGroups
				in.KeyedByInput = e.KeyedByInput
			}
			op.Inputs = append(op.Inputs, in)
		}
		if n.NewOperator != nil {
			if d, ok := n.NewOperator().(Describer); ok {
				for _, line := range strings.Split(strings.TrimRight(d.Describe(), "\n"), "\n") {
					op.describe = append(op.describe, line)
					if st, ok := strings.CutPrefix(line, "state: "); ok {
						op.State = st
					} else {
						op.Details = append(op.Details, line)
					}
				}
			}
		}
		plan.Operators = append(plan.Operators, op)
	}
	return plan
}

// Explain returns the physical plan of g as text: every operator with its
// parallelism, how its inputs arrive (forward and chained into the
// upstream's goroutine, or hashed on key columns, …), the watermark
// strategy of each source, and what the operators say about themselves
// (Describer) — their expressions and state.
func (g *Graph) Explain(defaultParallelism int) string {
	return g.Physical(defaultParallelism).String()
}

// String renders the plan as Explain's text (without the settings).
func (p PhysicalPlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %q\n", p.Job)
	for _, op := range p.Operators {
		fmt.Fprintf(&b, "%s %q, parallelism %d\n", op.Kind, op.Name, op.Parallelism)
		fmt.Fprintf(&b, "    output: %s\n", op.schema)
		if op.Kind == "source" {
			if w := op.Watermark; w != nil {
				fmt.Fprintf(&b, "    watermark: %s - %s per partition, minimum over partitions", w.Column, w.maxOutOfOrderness)
				if w.idleTimeout != "" {
					fmt.Fprintf(&b, ", idle after %s", w.idleTimeout)
				}
				b.WriteString("\n")
			} else {
				b.WriteString("    watermark: none\n")
			}
		}
		for _, in := range op.Inputs {
			port := ""
			if in.SideOutput > 0 {
				port = fmt.Sprintf(" (side output %d)", in.SideOutput)
			}
			how := in.Edge
			switch {
			case in.Chained:
				how = "FORWARD, chained into the same goroutine"
			case in.KeyGroups > 0:
				how = fmt.Sprintf("HASH(%s) over %d key groups", strings.Join(in.KeyColumns, ", "), in.KeyGroups)
				if in.KeyedByInput {
					how += " (keyed by input)"
				}
			}
			input := ""
			if op.inputs > 1 {
				input = fmt.Sprintf(" as input %d", in.Input)
			}
			fmt.Fprintf(&b, "    from %q%s%s: %s\n", in.FromName, port, input, how)
		}
		for _, line := range op.describe {
			fmt.Fprintf(&b, "    %s\n", line)
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
