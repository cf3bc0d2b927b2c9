// Package rttest provides what tests of operators and connectors share, as
// net/http/httptest does for HTTP handlers: a source of pre-built rows
// (Source), a collecting sink that is also an Output (Collector), a
// runtime.Context for driving an operator directly (NewContext), and the
// helpers around them for building batches, checking and formatting them,
// and reading a job's metrics.
//
// Everything here is for tests: a function fails by returning an error, and
// a row given with the wrong number of values panics as
// runtime.Batch.AppendValues does.
package rttest

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
)

// NewContext returns the context of subtask subtask of parallelism for
// operator, as the runtime would give it, with metrics of its own (read
// them with ctx.Metrics.LateRowsDropped.Get() and the like). Outside a job,
// Ctx is never cancelled (Done never closed), Go runs its function on a
// goroutine of its own (the test must stop it, e.g. with Close), Logger
// writes "sluice: " lines on standard error (capture them with SetLogger),
// JobMetrics is a set not registered for /metrics, SideOutput returns nil,
// RegisterProcessingTimer does nothing and CurrentWatermark is
// runtime.MinWatermark.
func NewContext(operator string, subtask, parallelism int) *runtime.Context {
	const job = "rttest"
	return &runtime.Context{
		Job:         job,
		Operator:    operator,
		Subtask:     subtask,
		Parallelism: parallelism,
		Metrics:     runtime.NewOperatorMetrics(metrics.NewSet(), job, operator, subtask),
	}
}

// Metric returns the sum over the subtasks of operator of the series name
// in set (the set given to runtime.Run in Options.Metrics), such as
// "sluice_operator_late_rows_dropped_total", and whether set has any such
// series.
func Metric(set *metrics.Set, name, operator string) (float64, bool) {
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	label := "operator=" + strconv.Quote(operator)
	sum, found := 0.0, false
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		line := sc.Text()
		labels, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(labels, "} ")
		if !ok || !strings.Contains(","+labels+",", ","+label+",") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// NewBatch returns a new batch of schema holding rows, one value per column
// each. The batch is not taken from the schema's pool, so it shares memory
// with no other batch; releasing it to the pool is allowed.
func NewBatch(schema *runtime.Schema, rows ...[]runtime.Value) *runtime.Batch {
	b := &runtime.Batch{Schema: schema, Cols: make([]runtime.Vector, len(schema.Fields))}
	for i, f := range schema.Fields {
		b.Cols[i].Type = f.Type
	}
	for _, r := range rows {
		b.AppendValues(r...)
	}
	return b
}

// CheckBatch reports what is wrong with b as an operator's output, if
// anything: a schema whose column types differ from want's (unless want is
// nil; batches of several upstreams, e.g. the branches of a UNION ALL,
// carry their own equal-layout schemas), more than
// runtime.DefaultBatchRows rows, a column whose type differs from its
// field's or whose values or null flags do not number b.N, a selection
// vector pointing outside the batch, or a NULL in a present row of a NOT
// NULL column.
func CheckBatch(b *runtime.Batch, want *runtime.Schema) error {
	s := b.Schema
	if want != nil && s != want && !sameLayout(s, want) {
		return fmt.Errorf("batch schema %v, want %v", s, want)
	}
	if b.Len() > runtime.DefaultBatchRows {
		return fmt.Errorf("batch of %d rows, more than %d", b.Len(), runtime.DefaultBatchRows)
	}
	if len(b.Cols) != len(s.Fields) {
		return fmt.Errorf("batch has %d columns, its schema %d", len(b.Cols), len(s.Fields))
	}
	for _, r := range b.Sel {
		if r < 0 || int(r) >= b.N {
			return fmt.Errorf("selection vector holds row %d of %d", r, b.N)
		}
	}
	for c := range b.Cols {
		v, f := &b.Cols[c], s.Fields[c]
		if v.Type != f.Type {
			return fmt.Errorf("column %d has type %v, want %v", c, v.Type, f.Type)
		}
		if v.Len() != b.N || v.Null != nil && len(v.Null) != b.N {
			return fmt.Errorf("column %d has %d values and %d null flags for %d rows", c, v.Len(), len(v.Null), b.N)
		}
		if f.Nullable || v.Null == nil {
			continue
		}
		for i := 0; i < b.Len(); i++ {
			if v.Null[b.Row(i)] {
				return fmt.Errorf("column %s is NOT NULL but holds a NULL", f.Name)
			}
		}
	}
	return nil
}

// Format formats a row as "v1,v2,…", each value as SQL prints it
// (runtime.Value.String).
func Format(row []runtime.Value) string {
	var sb strings.Builder
	for i, v := range row {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(v.String())
	}
	return sb.String()
}

// Strings formats the present rows of b with Format.
func Strings(b *runtime.Batch) []string {
	out := make([]string, b.Len())
	for i := range out {
		out[i] = Format(b.Values(i))
	}
	return out
}

// Quote formats v unambiguously, for tests that must tell 1 from 1.0 and
// from "1": NULL, integers of every type (timestamps too) in decimal,
// doubles in their shortest form and strings quoted as Go quotes them.
func Quote(v runtime.Value) string {
	if v.Null {
		return "NULL"
	}
	switch v.Type.Physical() {
	case runtime.PhysFloat:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case runtime.PhysString:
		return strconv.Quote(v.S)
	}
	return strconv.FormatInt(v.I, 10)
}

func sameLayout(a, b *runtime.Schema) bool {
	if a.Len() != b.Len() {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i].Type != b.Fields[i].Type {
			return false
		}
	}
	return true
}
