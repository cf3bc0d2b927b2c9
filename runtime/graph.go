package runtime

import (
	"fmt"
	"time"
)

// Partitioning says how rows travel along an edge.
type Partitioning uint8

// Edge kinds.
const (
	// Forward keeps rows in the same subtask index. Between operators of
	// equal parallelism, where the downstream has no other input, the two
	// are fused into one goroutine (operator chaining).
	Forward Partitioning = iota
	// Keyed hashes the key columns to a key group, and the key group to the
	// subtask that owns it.
	Keyed
	// Rebalance sends whole batches round-robin.
	Rebalance
	// Global sends everything to subtask 0.
	Global
)

func (p Partitioning) String() string {
	return [...]string{"FORWARD", "HASH", "REBALANCE", "GLOBAL"}[p]
}

// MaxKeyGroups is the number of key groups keys are hashed into; a key
// group is the unit of keyed state that moves when parallelism changes.
const MaxKeyGroups = 128

// WatermarkStrategy configures event time for a source.
type WatermarkStrategy struct {
	// TimeColumn is the index of the TIMESTAMP/BIGINT column holding the
	// event time in milliseconds; -1 for a source without event time.
	TimeColumn int
	// MaxOutOfOrderness is how far behind the largest time seen a row may
	// arrive and still be on time.
	MaxOutOfOrderness time.Duration
	// IdleTimeout marks a partition idle when it has delivered no row for
	// this long, so it stops holding back the watermark (0: never).
	IdleTimeout time.Duration
}

// NoWatermarks is the strategy of a source without event time.
var NoWatermarks = WatermarkStrategy{TimeColumn: -1}

// NodeID names a node of a Graph.
type NodeID int

// NodeSpec describes an operator or source of a Graph.
type NodeSpec struct {
	ID          NodeID
	Name        string
	Parallelism int       // 0: the job's default
	Schema      *Schema   // output rows (port 0)
	SideSchemas []*Schema // ports 1..; nil entries for unused ports
	Inputs      int       // number of logical inputs (0 for sources)

	NewOperator func() Operator
	NewSource   func() Source
	Watermarks  WatermarkStrategy
	// Info is what the layer that built the graph knows of the node (for
	// a SQL job's sources and sinks: their connectors.Table); the runtime
	// does not read it.
	Info any
}

// EdgeSpec connects port FromPort of From to input ToInput of To.
type EdgeSpec struct {
	From, To NodeID
	FromPort int
	ToInput  int
	Part     Partitioning
	KeyCols  []int // Keyed: the key columns of From's rows
	// KeyedByInput, on a Keyed edge, says that all rows of one key come
	// from one partition of the job's input (its topic is keyed by some
	// of KeyCols): when processes share the input partitions, the edge
	// needs no repartition.
	KeyedByInput bool
}

// Graph is a job: sources, operators and the edges between them.
type Graph struct {
	Name  string
	Nodes []*NodeSpec
	Edges []*EdgeSpec
}

// NewGraph returns an empty graph for a job called name.
func NewGraph(name string) *Graph { return &Graph{Name: name} }

// AddSource adds a source whose subtasks are made by newSource.
func (g *Graph) AddSource(name string, schema *Schema, parallelism int, newSource func() Source, wm WatermarkStrategy) NodeID {
	id := NodeID(len(g.Nodes))
	g.Nodes = append(g.Nodes, &NodeSpec{ID: id, Name: name, Parallelism: parallelism, Schema: schema, NewSource: newSource, Watermarks: wm})
	return id
}

// AddOperator adds an operator with the given number of inputs whose
// subtasks are made by newOp and which emits rows of schema.
func (g *Graph) AddOperator(name string, schema *Schema, parallelism, inputs int, newOp func() Operator) NodeID {
	id := NodeID(len(g.Nodes))
	g.Nodes = append(g.Nodes, &NodeSpec{ID: id, Name: name, Parallelism: parallelism, Schema: schema, Inputs: inputs, NewOperator: newOp})
	return id
}

// Connect adds an edge from port 0 of from to input 0 of to.
func (g *Graph) Connect(from, to NodeID, part Partitioning, keyCols ...int) {
	g.ConnectPort(from, 0, to, 0, part, keyCols...)
}

// ConnectPort adds an edge from a port of from to an input of to.
func (g *Graph) ConnectPort(from NodeID, port int, to NodeID, input int, part Partitioning, keyCols ...int) {
	g.Edges = append(g.Edges, &EdgeSpec{From: from, To: to, FromPort: port, ToInput: input, Part: part, KeyCols: keyCols})
}

// Node returns the spec of id.
func (g *Graph) Node(id NodeID) *NodeSpec { return g.Nodes[id] }

// validate checks the graph and fills default parallelism.
func (g *Graph) validate(defaultPar int) error {
	if len(g.Nodes) == 0 {
		return fmt.Errorf("job %q has no operators", g.Name)
	}
	for _, n := range g.Nodes {
		if n.Parallelism <= 0 {
			n.Parallelism = defaultPar
		}
		if (n.NewSource == nil) == (n.NewOperator == nil) {
			return fmt.Errorf("node %q must be either a source or an operator", n.Name)
		}
		if n.Schema == nil {
			return fmt.Errorf("node %q has no output schema", n.Name)
		}
	}
	inputs := make([][]bool, len(g.Nodes))
	for _, n := range g.Nodes {
		inputs[n.ID] = make([]bool, n.Inputs)
	}
	for _, e := range g.Edges {
		if int(e.From) >= len(g.Nodes) || int(e.To) >= len(g.Nodes) || e.From < 0 || e.To < 0 {
			return fmt.Errorf("edge %d→%d names an unknown node", e.From, e.To)
		}
		from, to := g.Nodes[e.From], g.Nodes[e.To]
		if to.NewSource != nil {
			return fmt.Errorf("edge %q→%q: a source has no inputs", from.Name, to.Name)
		}
		if e.ToInput < 0 || e.ToInput >= to.Inputs {
			return fmt.Errorf("edge %q→%q: operator has no input %d", from.Name, to.Name, e.ToInput)
		}
		inputs[e.To][e.ToInput] = true
		schema := from.Schema
		if e.FromPort > 0 {
			if e.FromPort > len(from.SideSchemas) || from.SideSchemas[e.FromPort-1] == nil {
				return fmt.Errorf("edge %q→%q: %q has no output port %d", from.Name, to.Name, from.Name, e.FromPort)
			}
			schema = from.SideSchemas[e.FromPort-1]
		}
		if e.Part == Forward && from.Parallelism != to.Parallelism {
			return fmt.Errorf("edge %q→%q: a forward edge needs equal parallelism (%d and %d)", from.Name, to.Name, from.Parallelism, to.Parallelism)
		}
		if e.Part == Keyed {
			if len(e.KeyCols) == 0 {
				return fmt.Errorf("edge %q→%q: a keyed edge needs key columns", from.Name, to.Name)
			}
			for _, c := range e.KeyCols {
				if c < 0 || c >= schema.Len() {
					return fmt.Errorf("edge %q→%q: key column %d out of range", from.Name, to.Name, c)
				}
			}
		}
	}
	for _, n := range g.Nodes {
		for i, ok := range inputs[n.ID] {
			if !ok {
				return fmt.Errorf("operator %q: input %d is not connected", n.Name, i)
			}
		}
	}
	// Cycle check (Kahn).
	indeg := make([]int, len(g.Nodes))
	for _, e := range g.Edges {
		indeg[e.To]++
	}
	var queue []NodeID
	for i, d := range indeg {
		if d == 0 {
			queue = append(queue, NodeID(i))
		}
	}
	seen := 0
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		seen++
		for _, e := range g.Edges {
			if e.From == id {
				indeg[e.To]--
				if indeg[e.To] == 0 {
					queue = append(queue, e.To)
				}
			}
		}
	}
	if seen != len(g.Nodes) {
		return fmt.Errorf("job %q has a cycle", g.Name)
	}
	return nil
}
