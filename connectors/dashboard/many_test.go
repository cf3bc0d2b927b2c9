package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/runtime"
)

// TestOneStreamCarriesEveryDashboard: /api/v1/events serves the events of
// several dashboards in one stream, each naming its dashboard; applied per
// dashboard they give each one's final rows. A replaced dashboard leaves
// the stream with an event saying so.
func TestOneStreamCarriesEveryDashboard(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	h := NewHub()
	h.EventInterval = 20 * time.Millisecond
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	a := testBoard(t, h, "mx_a", map[string]string{"retain": "10000 rows"})
	b := testBoard(t, h, "mx_b", map[string]string{"retain": "10000 rows"})
	resp, err := http.Get(srv.URL + "/api/v1/events?dashboard=mx_a&dashboard=nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a stream of an unknown dashboard: %s, want 404", resp.Status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan event, 10000)
	var wg sync.WaitGroup
	wg.Go(func() { _ = readEvents(ctx, srv.URL+"/api/v1/events?dashboard=mx_a&dashboard=mx_b", events) })
	rows := map[string]map[string]int{"mx_a": {}, "mx_b": {}}
	versions := map[string]int64{}
	read := func(until func() bool) {
		t.Helper()
		for !until() {
			select {
			case ev := <-events:
				var head struct{ ID string }
				if err := json.Unmarshal([]byte(ev.data), &head); err != nil {
					t.Fatal(err)
				}
				if ev.name == "replaced" {
					delete(rows, head.ID)
					continue
				}
				m, ok := rows[head.ID]
				if !ok {
					t.Fatalf("an event of dashboard %q: %s", head.ID, ev.data)
				}
				versions[head.ID] = apply(t, m, ev)
			case <-time.After(5 * time.Second):
				t.Fatalf("the stream stopped at versions %v", versions)
			}
		}
	}
	read(func() bool { return len(versions) == 2 }) // both snapshots
	for i := range 50 {
		a.write(batch(runtime.Insert, [2]int64{int64(i), 1}))
		b.write(batch(runtime.Insert, [2]int64{int64(i), 2}, [2]int64{int64(i), 3}))
	}
	sa, sb := a.Snapshot(), b.Snapshot()
	read(func() bool { return versions["mx_a"] == sa.Version && versions["mx_b"] == sb.Version })
	for id, s := range map[string]Snapshot{"mx_a": sa, "mx_b": sb} {
		want := map[string]int{}
		for _, r := range s.Rows {
			want[fmt.Sprintf("%v", r)]++
		}
		if fmt.Sprint(rows[id]) != fmt.Sprint(want) {
			t.Errorf("%s: the stream's rows %v, want %v", id, rows[id], want)
		}
	}
	// A new job's dashboard of the same name replaces mx_b.
	testBoard(t, h, "mx_b", nil)
	read(func() bool { _, ok := rows["mx_b"]; return !ok })
	cancel()
	wg.Wait()
	srv.CloseClientConnections()
}
