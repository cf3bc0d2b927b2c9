package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/browsertest"
)

// TestPackagedDashboardsDrawInTheBrowser runs each packaged dashboard job
// with its console, opens the console in headless chromium and waits
// until every dashboard of the job has drawn rows, with no JavaScript error
// or failed request. Its screenshots are the README's pictures:
// SLUICE_SCREENSHOT_DIR=$PWD/docs/img go test ./cmd/sluice -run TestPackagedDashboardsDrawInTheBrowser
func TestPackagedDashboardsDrawInTheBrowser(t *testing.T) {
	for _, tc := range []struct {
		shot string
		args []string
		ids  []string
		job  bool // also the job page's picture
	}{
		{"clickstream-dashboard", []string{"run", "clickstream-dashboard", "--speedup", "20"},
			[]string{"views_per_page", "top_pages", "distinct_users", "latency_by_region"}, true},
		{"location-dashboard", []string{"run", "location-dashboard", "--speedup", "10"},
			[]string{"vehicles_map", "speed_map", "geofence_entries"}, false},
		{"demo-dashboards", []string{"demo", "--period", "2s"},
			[]string{"cpu_by_host", "hosts_in_alarm"}, false},
	} {
		t.Run(tc.shot, func(t *testing.T) {
			r := startUI(t, nil, append(tc.args, "--parallelism", "2")...)
			url := r.consoleURL(t)
			waitForJob(t, url)
			b := browsertest.New(t, 1280, 900)
			b.Navigate(url)
			for _, id := range tc.ids {
				b.WaitFor("rows on dashboard "+id, `(window.sluice.dash.rows("`+id+`") || []).length > 0`, 60*time.Second)
			}
			// Let the charts take a few more windows, then the picture.
			time.Sleep(3 * time.Second)
			b.Screenshot(tc.shot)
			b.NoProblems()
			ids, err := browsertest.Eval[[]string](b, `window.sluice.dash.ids()`)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(ids, ",") == "" {
				t.Fatalf("the page shows no dashboard")
			}
			if !tc.job {
				return
			}
			b.Navigate(url + "job")
			b.WaitFor("rates on every operator", `(() => { const ops = document.querySelectorAll('#graph [data-operator]');
				return ops.length > 0 && Array.from(ops).every(g => Number(g.dataset.rowsInPerS) > 0 || Number(g.dataset.rowsOutPerS) > 0); })()`, 30*time.Second)
			b.Screenshot("job-page")
			b.NoProblems()
		})
	}
}
