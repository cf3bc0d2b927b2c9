package dashboards

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/store/server"
)

// TestFlagsFillTheJobFiles: the rates, the speed of event time and the
// start of the read go into the SQL; the defaults make a live job.
func TestFlagsFillTheJobFiles(t *testing.T) {
	f := func(src string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(src, w) {
				t.Errorf("want %q in\n%s", w, src)
			}
		}
	}
	live := Clickstream{}.SQL()
	f(live, "'rows-per-second' = '2000'", "'fields.ts.step' = '500000ns'", "ts - INTERVAL '2' SECOND", "'scan.startup.mode' = 'latest'")
	if strings.Contains(live, "max-future") {
		t.Errorf("a live job keeps the store's bound on event time ahead of the wall clock:\n%s", live)
	}
	since := time.UnixMilli(1_796_000_000_000)
	f(Clickstream{Common: Common{Speedup: 10, Since: since}, ClicksPerSecond: 1000}.SQL(),
		"'rows-per-second' = '1000'", "'fields.ts.step' = '10000000ns'", "ts - INTERVAL '20' SECOND",
		"'scan.startup.mode' = 'at-timestamp', 'scan.startup.timestamp-millis' = '1796000000000'", "'scan.watermark.max-future' = 'off'")
	f(Location{}.SQL(), "'vehicles' = '1000'", "'rows-per-second' = '1000'", Fence)
	f(Location{Common: Common{Speedup: 2.5}, Vehicles: 40}.SQL(), "'vehicles' = '40'", "'rows-per-second' = '100'", "ts - INTERVAL '5' SECOND")
}

// TestJobFilesCompile: both job files plan, with their dashboards.
func TestJobFilesCompile(t *testing.T) {
	srv, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store.UseEmbedded(srv)
	defer func() {
		store.UseEmbedded(nil)
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	for name, c := range map[string]struct {
		src string
		ids []string
	}{
		"clickstream.sql": {Clickstream{}.SQL(), ClickstreamDashboards},
		"location.sql":    {Location{}.SQL(), LocationDashboards},
	} {
		plan, err := sql.Compile(c.src, sql.Options{File: name, Parallelism: 2})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		explain := plan.Explain()
		for _, id := range c.ids {
			if !strings.Contains(explain, "sink "+id) {
				t.Errorf("%s: no sink %s in\n%s", name, id, explain)
			}
		}
		if err := plan.Close(t.Context()); err != nil {
			t.Error(err)
		}
	}
}
