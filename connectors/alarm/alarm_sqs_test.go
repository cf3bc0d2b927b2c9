package alarm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// TestAlarmToFIFOQueue: the alarm publishes to a FIFO topic (its group: the
// alarm's name), whose sqs subscription fills a FIFO queue of the store
// with every state change, in order.
func TestAlarmToFIFOQueue(t *testing.T) {
	srv, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer func() {
		ts.Close()
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	q := client.New(ts.URL, ts.Client()).SQS()
	ctx := context.Background()
	url, err := q.CreateQueue(ctx, "changes.fifo", map[string]string{"FifoQueue": "true"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeRows(t, filepath.Join(dir, "cpu.json"))
	job := fmt.Sprintf(`
CREATE TABLE cpu (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
  WITH ('connector' = 'file', 'path' = '%s/cpu.json');
CREATE TOPIC `+"`ops.fifo`"+`;
CREATE SUBSCRIPTION changes ON TOPIC `+"`ops.fifo`"+` WITH ('protocol' = 'sqs', 'endpoint' = 'changes.fifo', 'store.endpoint' = '%s');
CREATE TABLE high_cpu (host VARCHAR, period_end TIMESTAMP(3), avg_cpu DOUBLE) WITH (
  'connector' = 'alarm', 'topic' = 'ops.fifo', 'alarm-name' = 'HighCPU',
  'metric' = 'avg_cpu', 'dimensions' = 'host', 'period' = 'period_end',
  'comparison' = 'GreaterThanThreshold', 'threshold' = '90',
  'evaluation-periods' = '3', 'datapoints-to-alarm' = '2', 'treat-missing-data' = 'missing');
INSERT INTO high_cpu SELECT host, TUMBLE_END(ts, INTERVAL '10' SECOND) AS period_end, AVG(cpu) AS avg_cpu
  FROM cpu GROUP BY host, TUMBLE(ts, INTERVAL '10' SECOND);
`, dir, ts.URL)
	plan, err := sql.Compile(job, sql.Options{Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	if err := plan.Close(ctx); err != nil {
		t.Fatal(err)
	}
	perHost := map[string][]string{}
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; n < 5; {
		if time.Now().After(deadline) {
			t.Fatalf("received %d state changes of 5: %v", n, perHost)
		}
		ms, err := q.Receive(ctx, url, client.ReceiveInput{Max: 10, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var receipts []string
		for _, m := range ms {
			var e struct{ Type, SequenceNumber, TopicArn, Subject, Message string }
			if err := json.Unmarshal([]byte(m.Body), &e); err != nil {
				t.Fatal(err)
			}
			var c notification
			if err := json.Unmarshal([]byte(e.Message), &c); err != nil {
				t.Fatal(err)
			}
			if g := m.Attributes["MessageGroupId"]; g != "HighCPU" || e.SequenceNumber == "" || e.TopicArn != "arn:aws:sns:us-east-1:000000000000:ops.fifo" {
				t.Errorf("group %q, envelope %+v", g, e)
			}
			h := c.Dimensions["host"]
			perHost[h] = append(perHost[h], c.OldStateValue+"->"+c.NewStateValue)
			receipts = append(receipts, m.ReceiptHandle)
			n++
		}
		if len(receipts) > 0 {
			if _, err := q.Delete(ctx, url, receipts); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string][]string{
		"a": {"INSUFFICIENT_DATA->ALARM", "ALARM->OK"},
		"b": {"INSUFFICIENT_DATA->OK"},
		"c": {"INSUFFICIENT_DATA->ALARM", "ALARM->INSUFFICIENT_DATA"},
	}
	for h, w := range want {
		if !slices.Equal(perHost[h], w) {
			t.Errorf("host %s: %q, want %q", h, perHost[h], w)
		}
	}
}

// TestSQSSubscriptionErrors: a bad queue stops the job at start, naming the
// option and its place in the file.
func TestSQSSubscriptionErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"CREATE TOPIC ops;\nCREATE SUBSCRIPTION q ON TOPIC ops WITH ('protocol' = 'sqs', 'endpoint' = 'orders.fifo', 'store.endpoint' = 'http://127.0.0.1:1');",
			`job.sql:2:62: topic ops: subscription q: option "endpoint": the FIFO queue orders.fifo cannot subscribe to a standard topic`},
		{"CREATE TOPIC `ops.fifo`;\nCREATE SUBSCRIPTION f ON TOPIC `ops.fifo` WITH ('protocol' = 'file', 'endpoint' = '/tmp/x.jsonl');",
			`job.sql:2:49: topic ops.fifo: subscription f: option "protocol": "file": a FIFO topic delivers to queues only (protocol sqs)`},
		{"CREATE TOPIC ops;\nCREATE SUBSCRIPTION q ON TOPIC ops WITH ('protocol' = 'sqs', 'endpoint' = 'arn:aws:sqs:us-east-1:123456789012:jobs');",
			`job.sql:2:62: topic ops: subscription q: option "endpoint": ARN "arn:aws:sqs:us-east-1:123456789012:jobs": the store's queues are in the account 000000000000`},
		{"CREATE TOPIC ops;\nCREATE SUBSCRIPTION q ON TOPIC ops WITH ('protocol' = 'sqs');",
			`job.sql:2:42: topic ops: subscription q: option "protocol" = 'sqs' needs option "endpoint"`},
	} {
		_, err := sql.Compile(c.src, sql.Options{Parallelism: 1, File: "job.sql"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\nerr = %v\nwant %s", c.src, err, c.want)
		}
	}
}
