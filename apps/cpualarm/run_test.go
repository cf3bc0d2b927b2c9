package cpualarm

import (
	"context"
	"io"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	storeconn "github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/store/server"
)

var statusLine = regexp.MustCompile(`^(\d+) rows/s into the alarm · watermark lag (\d+\.\d) s · (\d+) host\(s\) in ALARM$`)

// TestStatusLineReadsTheJobsCounters: while the demo's job runs over an
// embedded store, its status line shows the rows flowing into the alarm
// (read from the window operator's counters), a watermark lag of seconds
// (not of the epoch), and the host that spikes in ALARM.
func TestStatusLineReadsTheJobsCounters(t *testing.T) {
	srv, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storeconn.UseEmbedded(srv)
	defer func() {
		storeconn.UseEmbedded(nil)
		srv.Close()
	}()
	cfg := Config{Feed: true, Hosts: 10, Spiking: 1, Period: time.Second, NoMachine: true, StartMillis: time.Now().UnixMilli()}
	set := metrics.NewSet()
	plan, err := sql.Compile(SQL(cfg), sql.Options{File: "status.sql", Parallelism: 2, Out: io.Discard, Metrics: set})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2, Metrics: set}) }()
	defer func() {
		cancel()
		<-done
	}()
	st := newStatus(plan.Graph, set)
	if st.window == "" {
		t.Fatal("no operator feeds the alarm sink")
	}
	var flowing, lagOK, alarmed bool
	var line string
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline) && !(flowing && lagOK && alarmed); {
		select {
		case err := <-done:
			t.Fatalf("the job ended: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
		line = st.line(time.Now())
		m := statusLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("status line %q", line)
		}
		rate, _ := strconv.Atoi(m[1])
		lag, _ := strconv.ParseFloat(m[2], 64)
		hosts, _ := strconv.Atoi(m[3])
		flowing = flowing || rate > 0
		lagOK = lagOK || (lag > 0 && lag < 10)
		alarmed = alarmed || hosts == 1
		if lag > 1000 {
			t.Fatalf("status line %q: a lag from the epoch", line)
		}
	}
	if !flowing || !lagOK || !alarmed {
		t.Fatalf("last status line %q: rows flowing %v, lag of seconds %v, a host in ALARM %v", line, flowing, lagOK, alarmed)
	}
}
