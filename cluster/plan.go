// Package cluster runs one job on several processes that share its Kafka
// input (sluice run --cluster kafka), in Kafka Streams' model of tasks with
// Flink's checkpoints, and without a cluster manager of its own: the
// processes coordinate through a Kafka consumer group, move rows between
// them through Kafka topics, and keep state in shared checkpoint storage.
//
// Tasks. The job's input topics are co-partitioned (P partitions each). Task
// t is partition t of every input topic, partition t of every repartition
// topic, and the keyed state of the rows they carry. The consumer group
// (connectors/kafka/group, a co-partitioned sticky assignment) deals the
// tasks to the processes; each process runs each of its tasks as a run of
// its own (runtime.Run with Options.Task) in which every operator has one
// subtask.
//
// Repartitioning. Keyed state must live with the task of its key. A keyed
// exchange whose rows already sit in the partition of their key
// (runtime.EdgeSpec.KeyedByInput: the input topic is keyed by part of the
// exchange's key) becomes a forward edge. Every other keyed exchange, and
// every global one, is cut: upstream, the rows go to an internal topic
// "<group>-<n>-repartition" with P partitions, keyed by the exchange's key
// (murmur2, as Kafka's Java client; a global exchange writes partition 0);
// downstream, task t reads partition t of it (package
// connectors/kafka/repart, which also carries watermarks and lets through
// only what a committed checkpoint of the producing task covers).
//
// Checkpoints and fencing. Each task checkpoints on its own into the shared
// store, under task-<t>/<attempt>/. A checkpoint counts once the process
// has committed the task's offsets to the consumer group with the
// checkpoint's location as the commit's metadata: the coordinator accepts
// that commit only from the member that owns the partition in the current
// generation, so a process that lost its partitions (a zombie) cannot make
// a checkpoint count, and exactly-once sinks, which publish only what a
// counted checkpoint covers, publish nothing for it. A new owner restores
// the task from the checkpoint its committed metadata names.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/kafka"
	"github.com/sluicehq/sluice/connectors/kafka/group"
	"github.com/sluicehq/sluice/connectors/kafka/repart"
	"github.com/sluicehq/sluice/runtime"
)

// Job is a job laid out for processes that share its input: the graph every
// task runs, the topics that carry rows between tasks, and the group.
type Job struct {
	Name    string
	GroupID string
	Inputs  []*kafka.Input
	Topics  []string // the input topics, sorted: their partitions are the tasks
	// Graph is what each task runs: every node at parallelism 1, the
	// graph cut at its repartitions.
	Graph *runtime.Graph
	// Repartitions are the internal topics, in the order of their numbers
	// (Partitions is 0 until Resolve).
	Repartitions []repart.Config
	// Partitions is the task count P (0 until Resolve).
	Partitions int
	// Bounded: every input ends ('scan.bounded.mode'), so the job ends once
	// every task has.
	Bounded bool
	// Fingerprint identifies the plan: processes of one group must run
	// the same one.
	Fingerprint string
}

// ErrNotShareable is wrapped by the errors of a job that several processes
// cannot share.
var ErrNotShareable = errors.New("--cluster kafka")

func notShareable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotShareable}, args...)...)
}

// Split lays out graph g (as the SQL planner builds it, at any parallelism)
// for processes that share its input. It checks that every source is a
// kafka table of one consumer group, and cuts the graph at its
// repartitions. It does not contact the brokers (see Resolve).
func Split(g *runtime.Graph) (*Job, error) {
	j := &Job{Name: g.Name, Bounded: true}
	brokers := ""
	for _, n := range g.Nodes {
		if n.NewSource == nil {
			if t, ok := n.Info.(connectors.Table); ok {
				if err := checkSink(t); err != nil {
					return nil, err
				}
			}
			continue
		}
		t, ok := n.Info.(connectors.Table)
		if !ok {
			return nil, notShareable("source %q is not a table: a job shared by several processes reads kafka tables only", n.Name)
		}
		if c := t.Options["connector"]; c != "kafka" && c != "upsert-kafka" {
			return nil, notShareable("table %s reads connector '%s': a job shared by several processes reads kafka tables only (its tasks are their partitions)", t.Name, c)
		}
		in, err := kafka.InputOf(t)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotShareable, err)
		}
		switch {
		case j.GroupID == "":
			j.GroupID, brokers = in.GroupID, strings.Join(in.Brokers, ",")
		case in.GroupID != j.GroupID:
			return nil, notShareable("table %s has 'properties.group.id' = '%s', table %s '%s': the tables of a shared job name one group", t.Name, in.GroupID, j.Inputs[0].Table, j.GroupID)
		case strings.Join(in.Brokers, ",") != brokers:
			return nil, notShareable("table %s reads brokers %s, table %s %s: the tables of a shared job read one cluster", t.Name, strings.Join(in.Brokers, ","), j.Inputs[0].Table, brokers)
		}
		j.Inputs = append(j.Inputs, in)
		j.Bounded = j.Bounded && in.Bounded
		for _, topic := range in.Topics {
			if !slices.Contains(j.Topics, topic) {
				j.Topics = append(j.Topics, topic)
			}
		}
	}
	if len(j.Inputs) == 0 {
		return nil, notShareable("the job has no kafka source")
	}
	slices.Sort(j.Topics)
	j.Graph, j.Repartitions = cut(g, j)
	j.Fingerprint = fingerprint(j)
	return j, nil
}

// checkSink refuses sinks that cannot be shared between processes.
func checkSink(t connectors.Table) error {
	for k := range t.Options {
		if strings.HasPrefix(k, "sink.partition-commit.") {
			return notShareable("table %s: option '%s': committing partitions waits for every subtask of the sink, which a shared job spreads over processes", t.Name, k)
		}
	}
	return nil
}

// cut returns the graph each task runs: nodes at parallelism 1, forward
// edges kept, keyed edges that the input is keyed by made forward, and the
// other keyed and global edges replaced by a repartition sink and source.
func cut(g *runtime.Graph, j *Job) (*runtime.Graph, []repart.Config) {
	out := runtime.NewGraph(g.Name)
	ids := map[runtime.NodeID]runtime.NodeID{}
	for _, n := range g.Nodes {
		c := *n
		c.ID = runtime.NodeID(len(out.Nodes))
		c.Parallelism = 1
		out.Nodes = append(out.Nodes, &c)
		ids[n.ID] = c.ID
	}
	var reps []repart.Config
	for _, e := range g.Edges {
		from, to := ids[e.From], ids[e.To]
		if e.Part == runtime.Forward || e.Part == runtime.Rebalance || e.Part == runtime.Keyed && e.KeyedByInput {
			out.ConnectPort(from, e.FromPort, to, e.ToInput, runtime.Forward)
			continue
		}
		n := len(reps) + 1
		src := g.Nodes[e.From]
		schema := src.Schema
		if e.FromPort > 0 {
			schema = src.SideSchemas[e.FromPort-1]
		}
		cfg := repart.Config{
			Table:  fmt.Sprintf("repartition %d (%s → %s)", n, src.Name, g.Nodes[e.To].Name),
			Topic:  fmt.Sprintf("%s-%d-repartition", j.GroupID, n),
			Schema: schema,
			Client: j.Inputs[0].Client,
		}
		if e.Part == runtime.Keyed {
			cfg.KeyCols = slices.Clone(e.KeyCols)
		}
		reps = append(reps, cfg)
		// Repartitions take their config from j at run time: Resolve
		// sets the partition count.
		i := len(reps) - 1
		sink := out.AddOperator(fmt.Sprintf("repartition %d: write %s", n, cfg.Topic), schema, 1, 1, func() runtime.Operator {
			return repart.NewSink(j.Repartitions[i])()
		})
		out.ConnectPort(from, e.FromPort, sink, 0, runtime.Forward)
		source := out.AddSource(fmt.Sprintf("repartition %d: read %s", n, cfg.Topic), schema, 1, func() runtime.Source {
			return repart.NewSource(j.Repartitions[i])()
		}, runtime.NoWatermarks)
		out.ConnectPort(source, 0, to, e.ToInput, runtime.Forward)
	}
	return out, reps
}

// fingerprint identifies the job's plan: its operators, edges and topics.
func fingerprint(j *Job) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%v|", j.GroupID, j.Topics)
	for _, n := range j.Graph.Nodes {
		fmt.Fprintf(h, "n %s %d %s|", n.Name, n.Inputs, n.Schema)
	}
	for _, e := range j.Graph.Edges {
		fmt.Fprintf(h, "e %d %d %d %d|", e.From, e.To, e.FromPort, e.ToInput)
	}
	for _, r := range j.Repartitions {
		fmt.Fprintf(h, "r %s %v|", r.Topic, r.KeyCols)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Resolve asks the brokers for the input topics' partition count — the
// task count, the same for every input topic — and creates the
// repartition topics with as many partitions (or checks those that
// exist).
func (j *Job) Resolve(ctx context.Context) error {
	in := j.Inputs[0]
	if err := in.Ping(ctx); err != nil {
		return err
	}
	cl, tr := in.Client()
	defer tr.CloseIdleConnections()
	p, err := group.CheckCoPartitioned(ctx, cl, j.Topics...)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotShareable, err)
	}
	j.Partitions = p
	for i := range j.Repartitions {
		j.Repartitions[i].Partitions = p
		if err := repart.EnsureTopic(ctx, j.Repartitions[i]); err != nil {
			return err
		}
	}
	return nil
}

// Describe says how the job is shared, for sluice explain.
func (j *Job) Describe() string {
	var b strings.Builder
	tasks := "one per partition"
	if j.Partitions > 0 {
		tasks = fmt.Sprintf("%d, one per partition", j.Partitions)
	}
	fmt.Fprintf(&b, "cluster: kafka group %q; tasks: %s of %s\n", j.GroupID, tasks, strings.Join(j.Topics, ", "))
	if len(j.Repartitions) == 0 {
		b.WriteString("cluster: no repartition: every keyed exchange is keyed like the input\n")
	}
	for _, r := range j.Repartitions {
		key := "all rows to partition 0 (global)"
		if r.KeyCols != nil {
			var names []string
			for _, c := range r.KeyCols {
				names = append(names, r.Schema.Fields[c].Name)
			}
			key = "keyed by " + strings.Join(names, ", ")
		}
		fmt.Fprintf(&b, "cluster: repartition topic %s: %s\n", r.Topic, key)
	}
	return b.String()
}
