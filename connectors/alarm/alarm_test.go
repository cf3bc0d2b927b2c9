package alarm_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	_ "github.com/sluicehq/sluice/connectors/alarm"
	_ "github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// notification is the part of a CloudWatch notification the tests check.
type notification struct {
	AlarmName       string
	NewStateValue   string
	OldStateValue   string
	NewStateReason  string
	StateChangeTime string
	Dimensions      map[string]string
}

// envelope is an SNS notification as an HTTP subscriber receives it.
type envelope struct {
	Type, MessageId, TopicArn, Subject, Message, Timestamp string
	MessageAttributes                                      map[string]struct{ Type, Value string }
}

// The rows: per host, 10-second periods from 10:00:00.
//
//	a: 96 (two rows), 95, 40, 40, 40  → ALARM at 10:00:10, OK at 10:00:40
//	b: 50 in every period             → OK at 10:00:10
//	c: 99, then nothing               → ALARM at 10:00:10, INSUFFICIENT_DATA at 10:00:40
func writeRows(t *testing.T, path string) {
	t.Helper()
	var b strings.Builder
	row := func(host string, sec int, cpu float64) {
		fmt.Fprintf(&b, `{"host":%q,"cpu":%g,"ts":"2026-11-25T10:00:%02d.000Z"}`+"\n", host, cpu, sec)
	}
	row("a", 1, 95)
	row("a", 2, 97)
	row("c", 3, 99)
	for p, cpu := range []float64{95, 40, 40, 40} {
		row("a", 10*(p+1)+1, cpu)
	}
	for p := range 5 {
		row("b", 10*p+5, 50)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEndToEnd: rows → per-host averages → the 2-of-3 alarm → topic →
// an HTTP subscriber with a filter policy (ALARM only) and a file
// subscriber (everything): every notification, exact in content and count.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	writeRows(t, filepath.Join(dir, "cpu.json"))
	var mu sync.Mutex
	var posts []envelope
	var headers []http.Header
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e envelope
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("POST body is not an envelope: %v: %s", err, body)
		}
		mu.Lock()
		posts, headers = append(posts, e), append(headers, r.Header.Clone())
		mu.Unlock()
	}))
	defer hook.Close()
	job := fmt.Sprintf(`
CREATE TABLE cpu (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
  WITH ('connector' = 'file', 'path' = '%[1]s/cpu.json');
CREATE TOPIC ops;
CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('protocol' = 'http', 'endpoint' = '%[2]s/hook',
  'filter-policy' = '{"NewStateValue": ["ALARM"]}');
CREATE SUBSCRIPTION audit ON TOPIC ops WITH ('protocol' = 'file', 'endpoint' = '%[1]s/audit.jsonl');
CREATE TABLE high_cpu (host VARCHAR, period_end TIMESTAMP(3), avg_cpu DOUBLE) WITH (
  'connector' = 'alarm', 'topic' = 'ops', 'alarm-name' = 'HighCPU',
  'metric' = 'avg_cpu', 'dimensions' = 'host', 'period' = 'period_end',
  'comparison' = 'GreaterThanThreshold', 'threshold' = '90',
  'evaluation-periods' = '3', 'datapoints-to-alarm' = '2', 'treat-missing-data' = 'missing');
INSERT INTO high_cpu SELECT host, TUMBLE_END(ts, INTERVAL '10' SECOND) AS period_end, AVG(cpu) AS avg_cpu
  FROM cpu GROUP BY host, TUMBLE(ts, INTERVAL '10' SECOND);
`, dir, hook.URL)
	plan, err := sql.Compile(job, sql.Options{Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	if err := plan.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Every state change reaches the file subscriber.
	f, err := os.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var changes []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e envelope
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line: %v: %s", err, sc.Text())
		}
		var n notification
		if err := json.Unmarshal([]byte(e.Message), &n); err != nil {
			t.Fatalf("message: %v: %s", err, e.Message)
		}
		changes = append(changes, fmt.Sprintf("%s %s %s->%s", n.Dimensions["host"], n.StateChangeTime, n.OldStateValue, n.NewStateValue))
	}
	slices.Sort(changes)
	want := []string{
		"a 2026-11-25T10:00:10.000Z INSUFFICIENT_DATA->ALARM",
		"a 2026-11-25T10:00:40.000Z ALARM->OK",
		"b 2026-11-25T10:00:10.000Z INSUFFICIENT_DATA->OK",
		"c 2026-11-25T10:00:10.000Z INSUFFICIENT_DATA->ALARM",
		"c 2026-11-25T10:00:40.000Z ALARM->INSUFFICIENT_DATA",
	}
	if !slices.Equal(changes, want) {
		t.Fatalf("state changes:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(want, "\n"))
	}

	// The HTTP subscriber gets the ALARMs only, as SNS notifications.
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 2 {
		t.Fatalf("%d POSTs, want the 2 ALARMs", len(posts))
	}
	byHost := map[string]notification{}
	for i, e := range posts {
		var n notification
		json.Unmarshal([]byte(e.Message), &n)
		byHost[n.Dimensions["host"]] = n
		if e.Type != "Notification" || e.Subject != `ALARM: "HighCPU" in US East (N. Virginia)` || !strings.HasSuffix(e.TopicArn, ":ops") ||
			e.MessageAttributes["NewStateValue"].Value != "ALARM" || e.MessageAttributes["host"].Value != n.Dimensions["host"] {
			t.Fatalf("envelope %+v", e)
		}
		h := headers[i]
		if h.Get("x-amz-sns-message-type") != "Notification" || h.Get("x-amz-sns-message-id") != e.MessageId || h.Get("x-amz-sns-topic-arn") != e.TopicArn {
			t.Fatalf("headers %v", h)
		}
	}
	a := byHost["a"]
	if a.AlarmName != "HighCPU" || a.OldStateValue != "INSUFFICIENT_DATA" || a.StateChangeTime != "2026-11-25T10:00:10.000Z" ||
		!strings.HasPrefix(a.NewStateReason, "Threshold Crossed: 1 out of the last 3 datapoints [96.0 (25/11/26 10:00:10)] was greater than the threshold (90.0)") {
		t.Fatalf("alarm of a: %+v", a)
	}
	if c := byHost["c"]; !strings.Contains(c.NewStateReason, "[99.0 (25/11/26 10:00:10)]") {
		t.Fatalf("alarm of c: %+v", c)
	}
}

// TestBadFilterPolicy: an invalid filter policy stops the job at start,
// naming the file position and the key.
func TestBadFilterPolicy(t *testing.T) {
	_, err := sql.Compile(`CREATE TOPIC ops;
CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('protocol' = 'http', 'endpoint' = 'http://127.0.0.1:1/',
  'filter-policy' = '{"NewStateValue": [{"prefixx": "AL"}]}');`, sql.Options{Parallelism: 1, File: "job.sql"})
	if err == nil || !strings.Contains(err.Error(), `job.sql:3:3:`) || !strings.Contains(err.Error(), `key "NewStateValue"`) || !strings.Contains(err.Error(), "prefixx") {
		t.Fatalf("err = %v", err)
	}
	_, err = sql.Compile(`CREATE SUBSCRIPTION pager ON TOPIC opz WITH ('protocol' = 'stdout');`, sql.Options{Parallelism: 1, File: "job.sql"})
	if err == nil || !strings.Contains(err.Error(), `job.sql:1:36: unknown topic "opz"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestBadDeliveryBounds: attempt-timeout, queue-bytes and drain-timeout are
// checked at start; an error names the option and its file position.
func TestBadDeliveryBounds(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`CREATE TOPIC ops WITH ('drain-timeout' = 'soon');`, `job.sql:1:24: topic ops: option "drain-timeout": "soon" is not a duration (e.g. 500ms, 10 s, 1 min)`},
		{`CREATE TOPIC ops;
CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('protocol' = 'http', 'endpoint' = 'http://127.0.0.1:1/',
  'attempt-timeout' = '0 s');`, `job.sql:3:3: topic ops: subscription pager: option "attempt-timeout": "0 s" must be at least 1ms`},
		{`CREATE TOPIC ops;
CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('protocol' = 'stdout', 'queue-bytes' = '3 GiB');`,
			`job.sql:2:69: topic ops: subscription pager: option "queue-bytes": "3 GiB" must be at most 2147483647`},
		{`CREATE TOPIC ops;
CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('protocol' = 'htp');`,
			`job.sql:2:46: topic ops: subscription pager: option "protocol": "htp" is not one of http, https, file, stdout, store, sqs (did you mean "http"?)`},
		{`CREATE TOPIC ops;
CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('endpoint' = 'x');`, `subscription pager needs option "protocol" (http, https, file, stdout, store, sqs)`},
		{`CREATE TOPIC ops;
CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('protocol' = 'stdout', 'queue-bytes' = '-1');`,
			`job.sql:2:69: topic ops: subscription pager: option "queue-bytes": "-1" is not a size (e.g. 128MB, 512kb, 1048576)`},
	} {
		_, err := sql.Compile(c.src, sql.Options{Parallelism: 1, File: "job.sql"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\nerr = %v\nwant %s", c.src, err, c.want)
		}
	}
	plan, err := sql.Compile(`CREATE TOPIC ops WITH ('drain-timeout' = '2 s');
CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('protocol' = 'stdout', 'queue-bytes' = '1000', 'attempt-timeout' = '500 ms');
CREATE SUBSCRIPTION archive ON TOPIC ops WITH ('protocol' = 'stdout', 'queue-bytes' = '64 KiB');`,
		sql.Options{Parallelism: 1, File: "job.sql"})
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}
