package console

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	_ "github.com/sluicehq/sluice/connectors/blackhole"
	_ "github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/internal/browsertest"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// startJob runs a SQL job until the test ends and shows it on a console
// of its own (on a free loopback port).
func startJob(t *testing.T, src string, opt Options) (*Server, *Job) {
	t.Helper()
	set := metrics.NewSet()
	metrics.RegisterSet(set) // for /metrics
	t.Cleanup(func() { metrics.UnregisterSet(set, true) })
	plan, err := sql.Compile(src, sql.Options{File: "job.sql", Parallelism: 2, Metrics: set})
	if err != nil {
		t.Fatal(err)
	}
	if opt.Addr == "" {
		opt.Addr = "127.0.0.1:0"
	}
	s, err := Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	j := &Job{Name: plan.Graph.Name, Plan: plan.Graph.Physical(2), Metrics: set}
	ended := s.AddJob(j)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2, Metrics: set}) }()
	t.Cleanup(func() {
		cancel()
		<-done
		ended()
		plan.Close(context.Background())
	})
	return s, j
}

const throttledJob = `
CREATE TABLE src (k INT, v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '2000',
  'fields.k.min' = '1', 'fields.k.max' = '10');
CREATE TABLE sink (k INT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT k, COUNT(*) FROM src GROUP BY k;
`

func TestJobPageListsEveryOperatorWithoutBrowserProblems(t *testing.T) {
	s, j := startJob(t, throttledJob, Options{})
	b := browsertest.New(t, 1280, 800)
	b.Navigate(s.URL() + "job")
	b.WaitFor("an element per operator", "document.querySelectorAll('[data-operator]').length === "+itoa(len(j.Plan.Operators)), 10*time.Second)
	b.Navigate(s.URL())
	b.WaitFor("the health strip", "document.getElementById('health').textContent.includes('rows/s')", 10*time.Second)
	b.Screenshot("dashboards")
	b.NoProblems()
}

func TestTokenProtectedConsoleRefusesRequestsWithoutIt(t *testing.T) {
	s, _ := startJob(t, throttledJob, Options{Token: "s3cret"})
	get := func(path string, hdr ...string) int {
		req, _ := http.NewRequest("GET", s.URL()+path, nil)
		if len(hdr) == 2 {
			req.Header.Set(hdr[0], hdr[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, p := range []string{"", "job", "api/v1/job", "api/v1/dashboards", "ui/app.css"} {
		if c := get(p); c != http.StatusUnauthorized {
			t.Errorf("GET /%s without the token: %d, want 401", p, c)
		}
		if c := get(p, "Authorization", "Bearer wrong"); c != http.StatusUnauthorized {
			t.Errorf("GET /%s with a wrong token: %d, want 401", p, c)
		}
		if c := get(p, "Authorization", "Bearer s3cret"); c != http.StatusOK {
			t.Errorf("GET /%s with the token: %d, want 200", p, c)
		}
	}
	if _, err := Start(Options{Addr: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("a console on 0.0.0.0 without a token started (err %v)", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
