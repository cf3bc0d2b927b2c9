package console

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	_ "github.com/sluicehq/sluice/connectors/dashboard"
	"github.com/sluicehq/sluice/internal/promtext"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// holdPort listens on a free loopback port until the test ends and
// returns its address.
func holdPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func TestDefaultAddressTakenFallsBackToTheNextFreePort(t *testing.T) {
	taken := holdPort(t)
	old := DefaultAddr
	DefaultAddr = taken
	defer func() { DefaultAddr = old }()
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, p, _ := net.SplitHostPort(taken)
	first, _ := strconv.Atoi(p)
	got := s.Addr().(*net.TCPAddr).Port
	if got <= first || got >= first+DefaultPorts {
		t.Fatalf("console on port %d; want one of the %d after the taken %d", got, DefaultPorts-1, first)
	}
	if s.URL() != fmt.Sprintf("http://127.0.0.1:%d/", got) {
		t.Errorf("URL %s, want the port bound (%d)", s.URL(), got)
	}
	resp, err := http.Get(s.URL() + "api/v1/jobs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/v1/jobs: %s", resp.Status)
	}
}

func TestExplicitAddressInUseIsAnErrorNamingIt(t *testing.T) {
	taken := holdPort(t)
	s, err := Start(Options{Addr: taken})
	if err == nil {
		s.Close()
		t.Fatalf("a console started on %s, which is taken", taken)
	}
	if !strings.Contains(err.Error(), "--ui "+taken) {
		t.Errorf("error %q does not name --ui %s", err, taken)
	}
}

func TestNonLoopbackAddressNeedsAToken(t *testing.T) {
	_, err := Start(Options{Addr: "0.0.0.0:0"})
	if !errors.Is(err, ErrTokenRequired) || !strings.Contains(err.Error(), "--ui 0.0.0.0:0") {
		t.Fatalf("a console on 0.0.0.0 without a token: err %v, want ErrTokenRequired naming --ui 0.0.0.0:0", err)
	}
	s, err := Start(Options{Addr: "0.0.0.0:0", Token: "t0ken"})
	if err != nil {
		t.Fatalf("with a token: %v", err)
	}
	s.Close()
}

// dashboardJob writes into a dashboard, for its event stream.
const dashboardJob = `
CREATE TABLE src (k INT, v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '200',
  'fields.k.min' = '1', 'fields.k.max' = '5');
CREATE TABLE counts_by_key WITH ('connector' = 'dashboard', 'chart' = 'table');
INSERT INTO counts_by_key SELECT k, COUNT(*) AS n FROM src GROUP BY k;
`

// request GETs path from s with the header hdr (name, value) when given
// and returns the response, its body read (the first line only of an
// event stream).
func request(t *testing.T, c *http.Client, s *Server, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+strings.TrimPrefix(path, "/"), nil)
	if len(hdr) == 2 {
		req.Header.Set(hdr[0], hdr[1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		return resp, line
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestTokenGuardsEveryRouteIncludingMetricsAndEventStreams(t *testing.T) {
	s, _ := startJob(t, dashboardJob, Options{Token: "s3cret", Metrics: promtext.Write})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	routes := []string{"/", "/job", "/api/v1/jobs", "/api/v1/job", "/api/v1/dashboards", "/api/v1/dashboards/counts_by_key",
		"/api/v1/dashboards/counts_by_key/events", "/api/v1/events?dashboard=counts_by_key", "/metrics", "/ui/app.css", "/assets/",
		"/favicon.ico", "/no-such-page"}
	for _, p := range routes {
		for _, hdr := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "s3cret"},
			{"Cookie", tokenCookie + "=wrong"}, {"Authorization", "Basic czNjcmV0"}} {
			resp, _ := request(t, c, s, p, hdr...)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s with %v: %s, want 401", p, hdr, resp.Status)
			}
			if resp.Header.Get("Content-Security-Policy") != csp {
				t.Errorf("GET %s with %v: no Content-Security-Policy header", p, hdr)
			}
		}
	}
	want := map[string]int{"/": 200, "/job": 200, "/api/v1/jobs": 200, "/api/v1/job": 200, "/api/v1/dashboards": 200,
		"/api/v1/dashboards/counts_by_key": 200, "/api/v1/dashboards/counts_by_key/events": 200,
		"/api/v1/events?dashboard=counts_by_key": 200, "/metrics": 200,
		"/ui/app.css": 200, "/favicon.ico": 204, "/no-such-page": 404}
	check := func(how string, hdr ...string) {
		for _, p := range routes {
			code, ok := want[p]
			if !ok {
				continue
			}
			resp, body := request(t, c, s, p, hdr...)
			if resp.StatusCode != code {
				t.Errorf("GET %s %s: %s, want %d", p, how, resp.Status, code)
			}
			if resp.Header.Get("Content-Security-Policy") != csp {
				t.Errorf("GET %s %s: no Content-Security-Policy header", p, how)
			}
			if strings.Contains(p, "events") && !strings.HasPrefix(body, "event: ") {
				t.Errorf("GET %s %s: first line %q, want an event", p, how, body)
			}
		}
	}
	check("with the bearer token", "Authorization", "Bearer s3cret")

	// /login with a wrong token is refused and sets nothing; with the
	// token it sets the cookie, which then opens every route.
	if resp, _ := request(t, c, s, "/login?token=wrong"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("/login with a wrong token: %s, cookies %v; want 401 and none", resp.Status, resp.Cookies())
	}
	resp, _ := request(t, c, s, "/login?token=s3cret")
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("/login with the token: %s, cookies %v; want 303 and the cookie", resp.Status, resp.Cookies())
	}
	ck := resp.Cookies()[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("the login cookie %v is not HttpOnly and SameSite=Strict", ck)
	}
	check("with the login cookie", "Cookie", ck.Name+"="+ck.Value)

	// A browser: /login, then the pages, with its cookie jar.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	if resp, body := request(t, browser, s, "/login?token=s3cret"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "<html") {
		t.Errorf("/login followed to the console: %s, want 200 and the dashboards page", resp.Status)
	}
}

// jobJSON returns the job as /api/v1/job serves it, decoded into a map.
func jobJSON(t *testing.T, s *Server) map[string]any {
	t.Helper()
	resp, body := request(t, http.DefaultClient, s, "/api/v1/job")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/v1/job: %s %s", resp.Status, body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("/api/v1/job: %v\n%s", err, body)
	}
	return v
}

func TestJobAPIListsEveryOperatorOfThePlanWithRates(t *testing.T) {
	s, j := startJob(t, throttledJob, Options{})
	var ops []any
	deadline := time.Now().Add(8 * time.Second)
	for {
		v := jobJSON(t, s)
		if v["state"] != "running" || v["name"] != j.Name {
			t.Fatalf("job %v is %v, want %s running", v["name"], v["state"], j.Name)
		}
		ops = v["operators"].([]any)
		moving := 0
		for _, o := range ops {
			o := o.(map[string]any)
			if o["rows_in_per_s"].(float64) > 0 || (o["kind"] == "source" && o["rows_out_per_s"].(float64) > 0) {
				moving++
			}
		}
		if len(ops) == len(j.Plan.Operators) && moving == len(ops) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 8 s, %d of %d operators show rows per second:\n%v", moving, len(j.Plan.Operators), ops)
		}
		time.Sleep(300 * time.Millisecond)
	}
	for i, o := range ops {
		o := o.(map[string]any)
		want := j.Plan.Operators[i]
		if int(o["id"].(float64)) != want.ID || o["name"] != want.Name || int(o["parallelism"].(float64)) != want.Parallelism {
			t.Errorf("operator %d is %v %v ×%v, want %d %s ×%d", i, o["id"], o["name"], o["parallelism"], want.ID, want.Name, want.Parallelism)
		}
		subs := o["subtasks"].([]any)
		if len(subs) != want.Parallelism {
			t.Errorf("operator %s has %d subtasks, want %d", want.Name, len(subs), want.Parallelism)
		}
		busy := o["busy_ms_per_s"].(float64) + o["backpressured_ms_per_s"].(float64) + o["idle_ms_per_s"].(float64)
		if busy < 0 || busy > 1001 {
			t.Errorf("operator %s: busy+backpressured+idle %v ms/s, want 0 to 1000", want.Name, busy)
		}
	}
}

func TestJobStaysShownWithHowItEnded(t *testing.T) {
	s, err := Start(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name, src string
		cancel    bool
		state     string
	}{
		{"bounded", "CREATE TABLE src (k INT) WITH ('connector' = 'datagen', 'number-of-rows' = '1000');\n" +
			"CREATE TABLE sink (k INT) WITH ('connector' = 'blackhole');\nINSERT INTO sink SELECT k FROM src;", false, "finished"},
		{"unbounded", throttledJob, true, "cancelled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := metrics.NewSet()
			plan, err := sql.Compile(tc.src, sql.Options{File: tc.name + ".sql", Parallelism: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer plan.Close(context.Background())
			j := &Job{Name: plan.Graph.Name, Plan: plan.Graph.Physical(2), Metrics: set}
			s.AddJob(j)
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				time.AfterFunc(500*time.Millisecond, cancel)
			}
			err = runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2, Metrics: set})
			cancel()
			j.End(err)
			resp, body := request(t, http.DefaultClient, s, "/api/v1/job?name="+j.Name)
			var v JobView
			if err := json.Unmarshal([]byte(body), &v); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: %v %s", resp.Status, err, body)
			}
			if v.State != tc.state || v.EndedMs == nil {
				t.Errorf("state %q, ended_ms %v; want %s with its end time", v.State, v.EndedMs, tc.state)
			}
			if tc.state == "finished" && v.Operators[0].RowsOut != 1000 {
				t.Errorf("the source's last figures: %d rows out, want 1000", v.Operators[0].RowsOut)
			}
		})
	}
	resp, body := request(t, http.DefaultClient, s, "/api/v1/jobs")
	if resp.StatusCode != 200 || !strings.Contains(body, "bounded") || !strings.Contains(body, "unbounded") {
		t.Errorf("/api/v1/jobs after both ended: %s %s, want both", resp.Status, body)
	}
}

func TestConsoleMetricsIncludeBusyTime(t *testing.T) {
	s, j := startJob(t, throttledJob, Options{Metrics: promtext.Write})
	resp, body := request(t, http.DefaultClient, s, "/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"# HELP sluice_operator_busy_seconds_total Time", "# TYPE sluice_operator_busy_seconds_total",
		`sluice_operator_busy_seconds_total{job="` + j.Name + `"`, "sluice_operator_backpressured_seconds_total{", "sluice_operator_idle_seconds_total{"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
}

func TestCloseEndsOpenEventStreamsAtOnce(t *testing.T) {
	s, _ := startJob(t, dashboardJob, Options{})
	resp, err := http.Get(s.URL() + "api/v1/dashboards/counts_by_key/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, _ := bufio.NewReader(resp.Body).ReadString('\n'); !strings.HasPrefix(line, "event: ") {
		t.Fatalf("the event stream begins %q", line)
	}
	start := time.Now()
	s.Close()
	if el := time.Since(start); el > time.Second {
		t.Errorf("Close took %v with an event stream open, want it at once", el)
	}
}
