package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	storeconn "github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/store/server"
)

// runJobWith runs a SQL job at parallelism 2 with the runtime options opt
// (Metrics and Parallelism are set here) until the test ends, on a
// console of its own.
func runJobWith(t *testing.T, src string, opt runtime.Options) (*Server, *Job) {
	t.Helper()
	set := metrics.NewSet()
	plan, err := sql.Compile(src, sql.Options{File: "job.sql", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	j := &Job{Name: plan.Graph.Name, Plan: plan.Graph.Physical(2), Metrics: set}
	s.AddJob(j)
	opt.Parallelism, opt.Metrics = 2, set
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, plan.Graph, opt) }()
	t.Cleanup(func() {
		cancel()
		j.End(<-done)
		plan.Close(context.Background())
	})
	return s, j
}

// jobView returns /api/v1/job of s, decoded.
func jobView(t *testing.T, s *Server) (JobView, map[string]any) {
	t.Helper()
	resp, body := request(t, http.DefaultClient, s, "/api/v1/job")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/v1/job: %s %s", resp.Status, body)
	}
	var v JobView
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(body), &m)
	return v, m
}

// waitView polls /api/v1/job until ok accepts it (10 s at most).
func waitView(t *testing.T, s *Server, what string, ok func(JobView) bool) (JobView, map[string]any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, m := jobView(t, s)
		if ok(v) {
			return v, m
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, no %s in %+v", what, v)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// windowJob counts clicks per page and 10-second window of event time,
// the clock starting now.
const windowJob = `
CREATE TABLE clicks (page_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '4000', 'fields.page_id.min' = '0', 'fields.page_id.max' = '4',
      'fields.ts.kind' = 'sequence', 'fields.ts.start' = 'now', 'fields.ts.step' = '250us');
CREATE TABLE views (page_id BIGINT, window_end TIMESTAMP(3), n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO views SELECT page_id, TUMBLE_END(ts, INTERVAL '10' SECOND) AS window_end, COUNT(*) AS n
FROM clicks GROUP BY page_id, TUMBLE(ts, INTERVAL '10' SECOND);
`

func TestJobAPIShowsWatermarksAndStatePerOperatorAndSubtask(t *testing.T) {
	s, j := runJobWith(t, windowJob, runtime.Options{})
	var window int
	for i, op := range j.Plan.Operators {
		if op.Kind != "source" && len(op.Inputs) > 0 && op.Inputs[0].Edge == "HASH" {
			window = i
		}
	}
	v, raw := waitView(t, s, "window state and watermarks", func(v JobView) bool {
		w := v.Operators[window]
		return w.StateKeys > 0 && w.WatermarkMs != nil && len(w.Subtasks) == 2
	})
	now := time.Now().UnixMilli()
	for _, op := range v.Operators {
		var least *int64
		var keys, bytes int64
		var late, bad uint64
		var lag int64
		for _, st := range op.Subtasks {
			if st.WatermarkMs != nil && (least == nil || *st.WatermarkMs < *least) {
				least = st.WatermarkMs
			}
			keys += st.StateKeys
			bytes += st.StateBytes
			late += st.LateRows
			bad += st.BadRecords
			lag = max(lag, st.WatermarkLagMs)
		}
		if op.StateKeys != keys || op.StateBytes != bytes || op.LateRows != late || op.BadRecords != bad || op.WatermarkLagMs != lag {
			t.Errorf("operator %s: %+v does not sum (max) its subtasks %+v", op.Name, op.SubtaskView, op.Subtasks)
		}
		if op.WatermarkMs != nil && (least == nil || *op.WatermarkMs != *least) {
			t.Errorf("operator %s: watermark %d, want the least of its subtasks'", op.Name, *op.WatermarkMs)
		}
	}
	w := v.Operators[window]
	if *w.WatermarkMs < now-60_000 || *w.WatermarkMs > now+5_000 {
		t.Errorf("window watermark %d, want about now (%d)", *w.WatermarkMs, now)
	}
	if w.WatermarkLagMs < 0 || w.WatermarkLagMs > 60_000 {
		t.Errorf("window watermark lag %d ms, want a few seconds at most", w.WatermarkLagMs)
	}
	// The JSON names the pages read.
	for _, k := range []string{"state", "restarts", "errors", "checkpoints", "operators"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("/api/v1/job has no %q", k)
		}
	}
	for _, o := range raw["operators"].([]any) {
		o := o.(map[string]any)
		sub := o["subtasks"].([]any)[0].(map[string]any)
		for _, k := range []string{"watermark_ms", "watermark_lag_ms", "state_keys", "state_bytes", "late_rows", "bad_records", "lag"} {
			if _, ok := o[k]; !ok {
				t.Errorf("operator %v has no %q", o["name"], k)
			}
			if _, ok := sub[k]; !ok {
				t.Errorf("a subtask of operator %v has no %q", o["name"], k)
			}
		}
	}
}

func TestJobAPIListsCheckpointsNewestLast(t *testing.T) {
	s, _ := runJobWith(t, windowJob, runtime.Options{Checkpoints: &runtime.CheckpointOptions{Dir: t.TempDir(), Interval: 150 * time.Millisecond}})
	v, _ := waitView(t, s, "three completed checkpoints", func(v JobView) bool {
		n := 0
		for _, c := range v.Checkpoints {
			if c.Status == runtime.CheckpointCompleted {
				n++
			}
		}
		return n >= 3
	})
	for i, c := range v.Checkpoints {
		if i > 0 && (c.ID <= v.Checkpoints[i-1].ID || c.TriggerMs < v.Checkpoints[i-1].TriggerMs) {
			t.Errorf("checkpoint %d (%+v) comes after %+v: want the newest last", i, c, v.Checkpoints[i-1])
		}
		if c.Status == runtime.CheckpointCompleted && (c.SizeBytes <= 0 || c.DurationMs < 0 || c.AlignmentMs < 0 || c.Error != "" || c.Savepoint) {
			t.Errorf("completed checkpoint %+v: want a size, a duration and no error", c)
		}
	}
	if v.State != "running" || v.Restarts != 0 || len(v.Errors) != 0 {
		t.Errorf("state %s, %d restarts, errors %v: want running, none", v.State, v.Restarts, v.Errors)
	}
}

func TestJobAPIShowsEachShardsLagOfAStoreSource(t *testing.T) {
	srv, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storeconn.UseEmbedded(srv)
	t.Cleanup(func() { storeconn.UseEmbedded(nil); srv.Close() })
	s, j := runJobWith(t, `
CREATE TABLE events (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'store', 'stream' = 'events', 'stream.create-shards' = '2', 'format' = 'json');
CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT id FROM events;
`, runtime.Options{})
	v, _ := waitView(t, s, "the lag of both shards", func(v JobView) bool { return len(v.Operators[0].Lag) == 2 })
	src := v.Operators[0]
	if j.Plan.Operators[0].Kind != "source" {
		t.Fatalf("operator 0 is %s, want the source", j.Plan.Operators[0].Kind)
	}
	seen := map[string]bool{}
	for _, st := range src.Subtasks {
		for _, l := range st.Lag {
			seen[l.Partition] = true
			if l.OffsetLag != -1 || l.MillisBehind < 0 {
				t.Errorf("subtask %d, %s: %+v; want millis behind ≥ 0 and offset lag -1 (unknown)", st.Subtask, l.Partition, l)
			}
		}
	}
	if len(seen) != 2 || !seen["shardId-000000000000"] || !seen["shardId-000000000001"] {
		t.Errorf("the subtasks' lag covers %v, want both shards", seen)
	}
	for _, op := range v.Operators[1:] {
		if len(op.Lag) != 0 {
			t.Errorf("operator %s, not a source, has lag %+v", op.Name, op.Lag)
		}
	}
}

// failOnce fails the first batch it is given, of any subtask, once.
type failOnce struct {
	runtime.Base
	failed *atomic.Bool
}

func (f *failOnce) ProcessBatch(int, *runtime.Batch, runtime.Output) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("injected failure")
	}
	return nil
}

func TestJobAPIShowsRestartsAndTheOperatorsError(t *testing.T) {
	plan, err := sql.Compile(throttledJob, sql.Options{File: "restarts.sql", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close(context.Background())
	g := plan.Graph
	var src runtime.NodeID = -1
	for _, n := range g.Nodes {
		if n.Name == "src" {
			src = n.ID
		}
	}
	var failed atomic.Bool
	g.Connect(src, g.AddOperator("fail", g.Node(src).Schema, 0, 1, func() runtime.Operator { return &failOnce{failed: &failed} }), runtime.Forward)

	s, err := Start(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	set := metrics.NewSet()
	j := &Job{Name: g.Name, Plan: g.Physical(2), Metrics: set}
	s.AddJob(j)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runtime.Supervise(ctx, g, runtime.Options{Parallelism: 2, Metrics: set},
			runtime.SupervisorOptions{Dir: t.TempDir(), Interval: 100 * time.Millisecond, RestartAttempts: 3})
	}()
	v, _ := waitView(t, s, "a restart", func(v JobView) bool { return v.Restarts == 1 && v.State == "running" })
	cancel()
	j.End(<-done)
	if len(v.Errors) != 1 {
		t.Fatalf("errors %+v: want the one failure", v.Errors)
	}
	e := v.Errors[0]
	if e.Kind != "operator" || e.Operator != "fail" || e.Subtask < 0 || e.Subtask > 1 || !strings.Contains(e.Message, "injected failure") ||
		e.TimeMs < v.StartedMs || e.TimeMs > v.NowMs {
		t.Errorf("error %+v: want the failing operator's, with its subtask, message and time", e)
	}
	if v, _ := jobView(t, s); v.State != "cancelled" || v.EndedMs == nil || v.Restarts != 1 {
		t.Errorf("after it was stopped: state %s, ended_ms %v, %d restarts; want cancelled, its end, 1", v.State, v.EndedMs, v.Restarts)
	}
}
