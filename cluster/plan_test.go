package cluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

var clickSchema = runtime.NewSchema(runtime.Field{Name: "user_id", Type: runtime.Varchar}, runtime.Field{Name: "page", Type: runtime.Varchar},
	runtime.Field{Name: "ts", Type: runtime.Timestamp})

func kafkaTable(name, topic, group string) connectors.Table {
	o := map[string]string{"connector": "kafka", "topic": topic, "properties.bootstrap.servers": "127.0.0.1:9092", "format": "json"}
	if group != "" {
		o["properties.group.id"] = group
	}
	return connectors.Table{Name: name, Schema: clickSchema, Options: o, TimeColumn: 2}
}

type nop struct{ runtime.Base }

func (nop) ProcessBatch(int, *runtime.Batch, runtime.Output) error { return nil }

func nopOp() runtime.Operator { return nop{} }

// graph is src → agg (keyed on column 1, marked keyedByInput or not) →
// sink, and agg → top (global).
func graph(src connectors.Table, keyedByInput bool) *runtime.Graph {
	g := runtime.NewGraph("clicks")
	s := g.AddSource("clicks", clickSchema, 4, nil, runtime.NoWatermarks)
	g.Node(s).NewSource = func() runtime.Source { return nil }
	g.Node(s).Info = src
	agg := g.AddOperator("agg", clickSchema, 4, 1, nopOp)
	g.Connect(s, agg, runtime.Keyed, 1)
	g.Edges[len(g.Edges)-1].KeyedByInput = keyedByInput
	sink := g.AddOperator("sink", clickSchema, 4, 1, nopOp)
	g.Connect(agg, sink, runtime.Forward)
	top := g.AddOperator("top", clickSchema, 1, 1, nopOp)
	g.Connect(agg, top, runtime.Global)
	return g
}

// TestSplitCutsKeyedAndGlobalEdgesAtRepartitionTopics: a keyed edge the
// input is not keyed by, and a global edge, become repartition topics; a
// keyed edge the input is keyed by becomes forward; every node runs one
// subtask.
func TestSplitCutsKeyedAndGlobalEdgesAtRepartitionTopics(t *testing.T) {
	j, err := Split(graph(kafkaTable("clicks", "clicks", "g"), false))
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Repartitions) != 2 || j.Repartitions[0].Topic != "g-1-repartition" || j.Repartitions[1].Topic != "g-2-repartition" {
		t.Fatalf("repartitions %+v", j.Repartitions)
	}
	if k := j.Repartitions[0].KeyCols; len(k) != 1 || k[0] != 1 || j.Repartitions[1].KeyCols != nil {
		t.Errorf("keys %v and %v, want [1] and none (global)", k, j.Repartitions[1].KeyCols)
	}
	for _, n := range j.Graph.Nodes {
		if n.Parallelism != 1 {
			t.Errorf("%s runs %d subtasks", n.Name, n.Parallelism)
		}
	}
	for _, e := range j.Graph.Edges {
		if e.Part != runtime.Forward {
			t.Errorf("edge %s → %s is %v", j.Graph.Nodes[e.From].Name, j.Graph.Nodes[e.To].Name, e.Part)
		}
	}
	// 4 nodes + a sink and a source per repartition.
	if len(j.Graph.Nodes) != 8 {
		t.Errorf("%d nodes, want 8", len(j.Graph.Nodes))
	}
	d := j.Describe()
	for _, want := range []string{`kafka group "g"`, "g-1-repartition: keyed by page", "g-2-repartition: all rows to partition 0"} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe lacks %q:\n%s", want, d)
		}
	}

	j, err = Split(graph(kafkaTable("clicks", "clicks", "g"), true))
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Repartitions) != 1 || j.Repartitions[0].KeyCols != nil {
		t.Errorf("keyed by input: repartitions %+v, want the global one only", j.Repartitions)
	}
}

// TestSplitRefusesWhatCannotBeShared: sources that are not kafka tables,
// tables without a group or with different groups, and sinks that wait
// for every subtask.
func TestSplitRefusesWhatCannotBeShared(t *testing.T) {
	datagen := connectors.Table{Name: "gen", Schema: clickSchema, Options: map[string]string{"connector": "datagen"}}
	for want, g := range map[string]*runtime.Graph{
		"reads connector 'datagen'":    graph(datagen, false),
		"properties.group.id":          graph(kafkaTable("clicks", "clicks", ""), false),
		"sink.partition-commit.policy": withSink(graph(kafkaTable("clicks", "clicks", "g"), false), "sink.partition-commit.policy.kind"),
		"name one group":               withSource(graph(kafkaTable("clicks", "clicks", "g"), false), kafkaTable("views", "views", "h")),
	} {
		_, err := Split(g)
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrNotShareable) {
			t.Errorf("Split = %v, want an error with %q", err, want)
		}
	}
}

func withSink(g *runtime.Graph, option string) *runtime.Graph {
	g.Nodes[2].Info = connectors.Table{Name: "out", Schema: clickSchema, Options: map[string]string{"connector": "file", option: "success-file"}}
	return g
}

func withSource(g *runtime.Graph, t connectors.Table) *runtime.Graph {
	s := g.AddSource(t.Name, clickSchema, 4, nil, runtime.NoWatermarks)
	g.Node(s).NewSource = func() runtime.Source { return nil }
	g.Node(s).Info = t
	g.Connect(s, 1, runtime.Keyed, 1)
	return g
}
