package alarm_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	_ "github.com/sluicehq/sluice/connectors/delivery"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// series returns the value of one series of set ("" and false when absent).
func series(set *metrics.Set, name string) (float64, bool) {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, name+" ") {
			v, err := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// TestTwoJobsInOneProcessKeepSeparateCounters: two jobs run at once in one
// process, each with a topic "ops", an alarm "HighCPU" and a delivery table
// "lake" of the same names; the sns, alarm and delivery counters of each
// are in its own metrics set and count only its own.
func TestTwoJobsInOneProcessKeepSeparateCounters(t *testing.T) {
	type job struct {
		dir  string
		set  *metrics.Set
		rows int
	}
	jobs := []*job{{dir: t.TempDir(), set: metrics.NewSet()}, {dir: t.TempDir(), set: metrics.NewSet()}}
	writeRows(t, filepath.Join(jobs[0].dir, "cpu.json"))
	// The second job only sees host b: one notification (OK).
	all, err := os.ReadFile(filepath.Join(jobs[0].dir, "cpu.json"))
	if err != nil {
		t.Fatal(err)
	}
	var onlyB []string
	for _, l := range strings.Split(strings.TrimSpace(string(all)), "\n") {
		if strings.Contains(l, `"host":"b"`) {
			onlyB = append(onlyB, l)
		}
	}
	if err := os.WriteFile(filepath.Join(jobs[1].dir, "cpu.json"), []byte(strings.Join(onlyB, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	jobs[0].rows, jobs[1].rows = strings.Count(string(all), "\n"), len(onlyB)

	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		src := fmt.Sprintf(`
CREATE TABLE cpu (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
  WITH ('connector' = 'file', 'path' = '%[1]s/cpu.json');
CREATE TOPIC ops;
CREATE SUBSCRIPTION audit ON TOPIC ops WITH ('protocol' = 'file', 'endpoint' = '%[1]s/audit.jsonl');
CREATE TABLE high_cpu (host VARCHAR, period_end TIMESTAMP(3), avg_cpu DOUBLE) WITH (
  'connector' = 'alarm', 'topic' = 'ops', 'alarm-name' = 'HighCPU',
  'metric' = 'avg_cpu', 'dimensions' = 'host', 'period' = 'period_end',
  'comparison' = 'GreaterThanThreshold', 'threshold' = '90',
  'evaluation-periods' = '3', 'datapoints-to-alarm' = '2', 'treat-missing-data' = 'missing');
CREATE TABLE lake (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3)) WITH ('connector' = 'delivery', 'destination' = 'file://%[1]s/lake');
INSERT INTO high_cpu SELECT host, TUMBLE_END(ts, INTERVAL '10' SECOND) AS period_end, AVG(cpu) AS avg_cpu
  FROM cpu GROUP BY host, TUMBLE(ts, INTERVAL '10' SECOND);
INSERT INTO lake SELECT host, cpu, ts FROM cpu;
`, j.dir)
		wg.Add(1)
		go func() {
			defer wg.Done()
			plan, err := sql.Compile(src, sql.Options{Parallelism: 2, Metrics: j.set})
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 2, Metrics: j.set})
			if err := plan.Close(context.Background()); errs[i] == nil {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	for i, j := range jobs {
		audit, err := os.ReadFile(filepath.Join(j.dir, "audit.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Count(string(audit), "\n")
		checks := []struct {
			series string
			want   int
		}{
			{`sluice_sns_published_total{topic="ops"}`, notes},
			{`sluice_sns_deliveries_total{topic="ops",subscription="audit"}`, notes},
			{`sluice_delivery_records_total{table="lake"}`, j.rows},
		}
		for _, c := range checks {
			if got, ok := series(j.set, c.series); !ok || got != float64(c.want) {
				t.Errorf("job %d: %s = %v (present %v), want %d", i, c.series, got, ok, c.want)
			}
		}
		if _, ok := series(j.set, `sluice_alarm_instances{alarm="HighCPU",state="OK"}`); !ok {
			t.Errorf("job %d: no alarm instance gauge in the job's set", i)
		}
	}
	if n, _ := series(jobs[1].set, `sluice_alarm_instances{alarm="HighCPU",state="OK"}`); n != 1 {
		t.Errorf("second job: %v instances OK, want 1 (host b)", n)
	}
	// Nothing of theirs is in the process-wide set.
	var b bytes.Buffer
	metrics.WriteProcessMetrics(&b)
	metrics.GetDefaultSet().WritePrometheus(&b)
	if s := b.String(); strings.Contains(s, `sluice_sns_`) || strings.Contains(s, `sluice_delivery_`) || strings.Contains(s, `sluice_alarm_`) {
		t.Fatalf("per-job counters in the default set:\n%s", s)
	}
}
