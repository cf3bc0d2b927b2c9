package sql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// keysSrc emits 20 rows, one per key 0..19, 10 per second.
const keysSrc = `
CREATE TABLE keys (k BIGINT, v BIGINT)
WITH ('connector' = 'datagen', 'number-of-rows' = '20', 'rows-per-second' = '10',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '19',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '20');
CREATE TABLE out WITH ('connector' = 'collect');
`

const perKey = `INSERT INTO out SELECT k, COUNT(*) AS n, SUM(v) AS total FROM keys GROUP BY k;`

func runPlan(t *testing.T, src string, o Options) (*Plan, error) {
	t.Helper()
	o.File, o.Parallelism = "job.sql", 1
	plan, err := Compile(src, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return plan, runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 1})
}

// TestStateMaxKeysFailsTheJob checks that SET 'sluice.state.max-keys'
// reaches the GROUP BY (and windows): a job whose keys exceed it fails
// with the state-limit error naming the operator.
func TestStateMaxKeysFailsTheJob(t *testing.T) {
	_, err := runPlan(t, strings.Replace(keysSrc, ", 'rows-per-second' = '10'", "", 1)+"SET 'sluice.state.max-keys' = '8';\n"+perKey, Options{})
	if !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), `operator "group aggregate"`) ||
		!strings.Contains(err.Error(), "over its limit of 8") {
		t.Fatalf("got %v, want the state-limit error of the group aggregate", err)
	}
	// Windows take the limit too.
	src := `CREATE TABLE w (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'number-of-rows' = '100', 'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '99',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1ms');
CREATE TABLE out WITH ('connector' = 'collect');
SET 'sluice.state.max-keys' = '10';
INSERT INTO out SELECT k, COUNT(*) AS n FROM w GROUP BY k, TUMBLE(ts, INTERVAL '1' MINUTE);`
	if _, err := runPlan(t, src, Options{}); !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), `operator "window TUMBLE`) {
		t.Fatalf("window: got %v", err)
	}
}

// TestStateTTLDropsIdleKeys checks SET 'table.exec.state.ttl' end to end:
// keys idle past the TTL (processing time, as Flink) are dropped, so 20
// keys arriving 100 ms apart with a 100 ms TTL fit under a limit of 8 keys
// that they exceed without the TTL; --state-ttl (Options.StateTTL) does the
// same and wins over the file.
func TestStateTTLDropsIdleKeys(t *testing.T) {
	limit := "SET 'sluice.state.max-keys' = '8';\n"
	if _, err := runPlan(t, keysSrc+limit+perKey, Options{}); !errors.Is(err, state.ErrStateLimit) {
		t.Fatalf("without a TTL: got %v, want the state-limit error", err)
	}
	for _, c := range []struct {
		set string
		o   Options
	}{
		{"SET 'table.exec.state.ttl' = '100 ms';\n", Options{}},
		{"SET 'table.exec.state.ttl' = '1 d';\n", Options{StateTTL: 100 * time.Millisecond}},
	} {
		plan, err := runPlan(t, keysSrc+limit+c.set+perKey, c.o)
		if err != nil {
			t.Fatalf("%q %+v: %v", c.set, c.o, err)
		}
		if got := collected("out").Rows(); len(got) != 20 {
			t.Fatalf("%d rows, want 20", len(got))
		}
		if !strings.Contains(plan.Explain(), "TTL 100ms in processing time") {
			t.Fatalf("explain:\n%s", plan.Explain())
		}
	}
}

// TestStateSettingsInExplainAndWarning checks that explain shows the state
// TTL and key limit, and that a windowless GROUP BY without a TTL warns
// once, naming the query's position.
func TestStateSettingsInExplainAndWarning(t *testing.T) {
	src := keysSrc + "SET 'table.exec.state.ttl' = '1 h';\nSET 'sluice.state.max-keys' = '1000';\n" + perKey
	plan, err := Compile(src, Options{File: "job.sql", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	ex := plan.Explain()
	for _, want := range []string{
		"settings: 'table.exec.state.ttl' = '1 h' (line 7); 'sluice.state.max-keys' = '1000' (line 8)\n",
		"state: one entry per key, TTL 1h0m0s in processing time ('table.exec.state.ttl'); at most 1000 keys per subtask ('sluice.state.max-keys')",
	} {
		if !strings.Contains(ex, want) {
			t.Fatalf("explain lacks %q:\n%s", want, ex)
		}
	}
	if len(plan.Warnings) != 0 {
		t.Fatalf("warnings with a TTL: %q", plan.Warnings)
	}
	// No TTL: one warning per windowless GROUP BY with keys, at its query.
	plan, err = Compile(keysSrc+perKey+"\nINSERT INTO out SELECT COUNT(*) AS n, 0 AS a, 0 AS b FROM keys;", Options{File: "job.sql", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := "job.sql:7:1: warning: GROUP BY without a window keeps the state of every key forever: " +
		"bound it with SET 'table.exec.state.ttl' = '1 h' (or --state-ttl), or cap it with SET 'sluice.state.max-keys'"
	if len(plan.Warnings) != 1 || plan.Warnings[0] != want {
		t.Fatalf("warnings %q, want [%q]", plan.Warnings, want)
	}
	if ex := plan.Explain(); !strings.Contains(ex, "no TTL: kept forever") {
		t.Fatalf("explain:\n%s", ex)
	}
	// The flag silences it too.
	if plan, err = Compile(keysSrc+perKey, Options{File: "job.sql", Parallelism: 2, StateTTL: time.Hour}); err != nil || len(plan.Warnings) != 0 {
		t.Fatalf("with --state-ttl: %v %q", err, plan.Warnings)
	}
}
