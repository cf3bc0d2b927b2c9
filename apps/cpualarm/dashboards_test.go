package cpualarm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/dashboard"
	_ "github.com/sluicehq/sluice/connectors/file" // the readings
	storeconn "github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/store/server"
)

// TestHostsInAlarmFollowTheAlarm: over CPU readings written to the store
// (host a hot for three periods then cool, b always cool, c hot from the
// fifth period on), the hosts_in_alarm table ends holding exactly the hosts
// whose last notification of the alarm sink is ALARM: a's row left when a
// went back to OK; and cpu_by_host has every host's averages.
func TestHostsInAlarmFollowTheAlarm(t *testing.T) {
	srv, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storeconn.UseEmbedded(srv)
	defer func() {
		storeconn.UseEmbedded(nil)
		srv.Close()
	}()
	// Readings: ten per 10 s period, each period's average as given; the
	// watermark (2 s behind) passes the end of the first 7 periods.
	periods := map[string][]float64{
		"a": {95, 95, 95, 20, 20, 20, 20, 20},
		"b": {20, 20, 20, 20, 20, 20, 20, 20},
		"c": {20, 20, 20, 20, 95, 95, 95, 95},
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var lines bytes.Buffer
	for p := range 8 {
		for i := range 10 {
			for _, h := range []string{"a", "b", "c"} {
				ts := start.Add(time.Duration(p)*10*time.Second + time.Duration(i)*time.Second)
				fmt.Fprintf(&lines, `{"host":%q,"cpu":%g,"ts":%q}`+"\n", h, periods[h][p], ts.Format(time.RFC3339Nano))
			}
		}
	}
	path := filepath.Join(t.TempDir(), "cpu.jsonl")
	if err := os.WriteFile(path, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	load, err := sql.Compile(fmt.Sprintf(`CREATE TABLE readings (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3)) WITH ('connector' = 'file', 'path' = '%s');
CREATE TABLE metrics_out (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3))
  WITH ('connector' = 'store', 'stream' = 'metrics', 'partition-key' = 'host', 'stream.create-shards' = '4');
INSERT INTO metrics_out SELECT * FROM readings;`, path), sql.Options{File: "load.sql", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.Run(context.Background(), load.Graph, runtime.Options{Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
	load.Close(context.Background())

	// The subscription prints the notifications to standard output.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&out, r)
	}()
	stdout := os.Stdout
	os.Stdout = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{StartMillis: 0}, RunOptions{Name: "alarm", Parallelism: 2, Out: w}) }()
	// Every period of every host shows in cpu_by_host once the watermark
	// has passed them all (shards without readings go idle after 5 s).
	full := func() bool {
		d, ok := dashboard.Default.Get("cpu_by_host")
		return ok && len(d.Snapshot().Rows) == 21
	}
	for deadline := time.Now().Add(30 * time.Second); !full() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the alarm table's last changes
	cancel()
	err = <-done
	os.Stdout = stdout
	w.Close()
	<-copied
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := dashboard.Default.Get("cpu_by_host")
	if d == nil || len(d.Snapshot().Rows) != 21 {
		t.Fatalf("cpu_by_host: want 3 hosts × 7 periods, got %v", d.Snapshot().Rows)
	}
	for _, r := range d.Snapshot().Rows { // host, period_end, avg_cpu
		p := int((r[1].(int64) - start.UnixMilli()) / 10_000)
		if want := periods[r[0].(string)][p-1]; r[2] != want {
			t.Errorf("cpu_by_host: %v, want an average of %v", r, want)
		}
	}
	alarmed, _ := dashboard.Default.Get("hosts_in_alarm")
	var inTable []string
	for _, r := range alarmed.Snapshot().Rows {
		inTable = append(inTable, r[0].(string))
	}
	sort.Strings(inTable)
	// The alarm sink's notifications, in order: each host's last state.
	last := map[string]string{}
	for _, m := range regexp.MustCompile(`"NewStateValue": "(\w+)",[\s\S]*?"host": "(\w+)"`).FindAllStringSubmatch(out.String(), -1) {
		last[m[2]] = m[1]
	}
	var inAlarm []string
	for h, s := range last {
		if s == "ALARM" {
			inAlarm = append(inAlarm, h)
		}
	}
	sort.Strings(inAlarm)
	if strings.Join(inTable, ",") != "c" || strings.Join(inAlarm, ",") != "c" || last["a"] != "OK" {
		t.Errorf("hosts_in_alarm holds %v; the alarm's notifications leave %v in ALARM (a: %q); want [c] for both\n%s",
			inTable, inAlarm, last["a"], out.String())
	}
}
