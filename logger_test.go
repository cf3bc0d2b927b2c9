package sluice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/operators/process"
	rt "github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// failOnce passes rows through, and fails (logging why) at the row whose
// id is at, the first time only.
type failOnce struct {
	at     int64
	failed *atomic.Bool
}

func (f failOnce) ProcessRow(ctx *process.Ctx, b *rt.Batch, r int, out *process.Emitter) error {
	if b.Cols[1].I64[r] == f.at && f.failed.CompareAndSwap(false, true) {
		ctx.Runtime().Logger().Warn("failing on purpose", "id", f.at)
		return errors.New("injected failure")
	}
	return out.AppendRow(b, r)
}

func (failOnce) OnTimer(*process.Ctx, int64, bool, *process.Emitter) error { return nil }

// lockedBuffer is a bytes.Buffer safe for the job's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestExecuteWithLoggerLogsRestartsAndOperatorLines: WithLogger reaches
// the operators (their lines carry job, operator and subtask), and a job
// with checkpoints whose operator fails logs the restart and the restored
// checkpoint there without CheckpointLog — and publishes every row once.
func TestExecuteWithLoggerLogsRestartsAndOperatorLines(t *testing.T) {
	const rows = 12000
	out := t.TempDir()
	var logs lockedBuffer
	env := sluice.NewEnv(sluice.WithParallelism(2), sluice.WithName("ids"),
		sluice.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	fill := func(b *rt.Batch, first int64, n int) {
		for i := first; i < first+int64(n); i++ {
			b.Cols[0].I64 = append(b.Cols[0].I64, i%7)
			b.Cols[1].I64 = append(b.Cols[1].I64, i)
			b.Cols[2].I64 = append(b.Cols[2].I64, i)
		}
	}
	f, _ := connectors.Lookup("file")
	newSink, _, err := f.(connectors.Sink).NewSink(connectors.Table{Name: "ids", Schema: idSchema, TimeColumn: -1,
		Options: map[string]string{"path": filepath.Join(out, "ids"), "format": "json"}})
	if err != nil {
		t.Fatal(err)
	}
	var failed atomic.Bool
	env.FromGenerator("gen", idSchema, rows, fill, sluice.RowsPerSecond(6000), sluice.BatchRows(64)).
		KeyBy("k").Process(idSchema, "", func() process.Func { return failOnce{at: 5000, failed: &failed} }, state.Options{}).
		To("ids", newSink)
	if err := env.Execute(context.Background(), sluice.WithCheckpoints(filepath.Join(out, "ck"), 100*time.Millisecond)); err != nil {
		t.Fatalf("Execute: %v\n%s", err, logs.String())
	}
	if !failed.Load() {
		t.Fatal("the operator did not fail")
	}
	var restarting, restoring, operatorLine bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct {
			Level, Msg, Job, Operator string
			Subtask                   *int
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Job != "ids" {
			t.Errorf("log line %q: job %q, want ids", line, rec.Job)
		}
		switch {
		case strings.Contains(rec.Msg, "injected failure; restarting in"):
			restarting = rec.Level == "INFO"
		case strings.HasPrefix(rec.Msg, "job ids: restoring checkpoint "):
			restoring = true
		case rec.Msg == "failing on purpose":
			operatorLine = rec.Operator == "process" && rec.Subtask != nil && rec.Level == "WARN"
		}
	}
	if !restarting || !restoring || !operatorLine {
		t.Fatalf("restart logged: %v, restore logged: %v, operator line with its attributes: %v; the log:\n%s",
			restarting, restoring, operatorLine, logs.String())
	}
	everyIDOnce(t, publishedIDs(t, out), rows, "after a failure and a restart")
}
