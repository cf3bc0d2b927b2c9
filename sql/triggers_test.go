package sql

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/triggers"
)

func TestCreateFunctionTriggerPlansItsConfig(t *testing.T) {
	src := `CREATE TOPIC ops;
CREATE FUNCTION TRIGGER notify ON STREAM orders WITH (
  'endpoint' = 'http://127.0.0.1:9000/fn', 'batch.size' = '25', 'batch.window' = '2 s',
  'starting-position' = 'latest', 'max-retry-attempts' = '3', 'bisect-on-error' = 'true',
  'report-batch-item-failures' = 'true', 'on-failure' = 'topic:ops', 'concurrency' = '2',
  'positions.dir' = '/tmp/p', 'store.endpoint' = 'http://127.0.0.1:1');
CREATE FUNCTION TRIGGER IF NOT EXISTS notify ON STREAM other WITH ('command' = 'cat');
CREATE FUNCTION TRIGGER gone ON STREAM s WITH ('command' = 'cat', 'store.endpoint' = 'http://127.0.0.1:1', 'on-failure' = 'dlq');
DROP FUNCTION TRIGGER gone;
DROP FUNCTION TRIGGER IF EXISTS gone;
CREATE FUNCTION TRIGGER local ON STREAM s WITH ('command' = './fn.sh', 'store.endpoint' = 'http://127.0.0.1:1', 'on-failure' = 'stream:dlq')`
	plan, err := Compile(src, Options{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close(t.Context())
	if plan.Graph != nil || len(plan.Triggers) != 2 {
		t.Fatalf("graph %v, %d triggers", plan.Graph, len(plan.Triggers))
	}
	l, c := plan.Triggers[0], plan.Triggers[1]
	if c.Name != "notify" || c.BatchSize != 25 || c.BatchWindow != 2*time.Second || c.StartingPosition != triggers.Latest ||
		c.MaxRetryAttempts != 3 || !c.BisectOnError || !c.ReportBatchItemFailures || c.Concurrency != 2 || c.PositionsDir != "/tmp/p" ||
		c.Timeout != time.Minute || c.OnFailure == nil {
		t.Errorf("notify: %+v", c)
	}
	if h, ok := c.Invoker.(*triggers.HTTPInvoker); !ok || h.URL != "http://127.0.0.1:9000/fn" {
		t.Errorf("notify's invoker %#v", c.Invoker)
	}
	if s, ok := c.Source.(*triggers.StreamSource); !ok || s.Stream != "orders" {
		t.Errorf("notify's source %#v", c.Source)
	}
	if l.Name != "local" || l.BatchSize != 100 || l.MaxRetryAttempts != -1 || l.StartingPosition != triggers.TrimHorizon || l.BisectOnError {
		t.Errorf("local: %+v", l)
	}
	if ci, ok := l.Invoker.(*triggers.CommandInvoker); !ok || ci.Command != "./fn.sh" {
		t.Errorf("local's invoker %#v", l.Invoker)
	}
	if d, ok := l.OnFailure.(*triggers.StreamDestination); !ok || d.Stream != "dlq" {
		t.Errorf("local's destination %#v", l.OnFailure)
	}
}

func TestCreateFunctionTriggerOnQueuePlansItsConfig(t *testing.T) {
	src := `CREATE FUNCTION TRIGGER work ON QUEUE jobs WITH ('command' = 'cat', 'store.endpoint' = 'http://127.0.0.1:1');
CREATE FUNCTION TRIGGER big ON QUEUE jobs WITH ('endpoint' = 'http://127.0.0.1:9000/fn', 'store.endpoint' = 'http://127.0.0.1:1',
  'batch.size' = '500', 'batch.window' = '2 s', 'timeout' = '20 s', 'concurrency' = '3', 'report-batch-item-failures' = 'true')`
	plan, err := Compile(src, Options{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close(t.Context())
	if len(plan.Triggers) != 2 {
		t.Fatalf("%d triggers", len(plan.Triggers))
	}
	b, w := plan.Triggers[0], plan.Triggers[1]
	if w.Name != "work" || w.Queue == nil || w.Queue.Queue != "jobs" || w.Source != nil || w.BatchSize != 10 || w.Timeout != 0 ||
		w.Concurrency != 0 || w.MaxRetryAttempts != 0 || w.StartingPosition != "" {
		t.Errorf("work: %+v", w)
	}
	if b.BatchSize != 500 || b.BatchWindow != 2*time.Second || b.Timeout != 20*time.Second || b.Concurrency != 3 || !b.ReportBatchItemFailures {
		t.Errorf("big: %+v", b)
	}
}

// TestFunctionTriggerErrorsNameTheOption: mistakes are placed at the option
// (file:line:col) and say what is wrong.
func TestFunctionTriggerErrorsNameTheOption(t *testing.T) {
	const at = `'store.endpoint' = 'http://127.0.0.1:1'`
	for src, want := range map[string]string{
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH (" + at + ",\n 'batch.sise' = '5', 'command' = 'cat')":       `job.sql:2:2: CREATE FUNCTION TRIGGER has no option "batch.sise" (did you mean "batch.size"?)`,
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH (" + at + ",\n 'batch.size' = '0', 'command' = 'cat')":       `job.sql:2:2: function trigger f: option "batch.size"`,
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH (" + at + ",\n 'endpoint' = 'ftp://x')":                      `job.sql:2:2: function trigger f: option "endpoint": "ftp://x" is not an http:// or https:// URL`,
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH (" + at + ",\n 'endpoint' = 'http://x', 'command' = 'c')":    `job.sql:2:27: function trigger f: give 'endpoint' or 'command', not both`,
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH (" + at + ")":                                                `job.sql:1:1: function trigger f needs option 'endpoint'`,
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH (" + at + ",\n 'command' = 'c', 'on-failure' = 'topic:ops')": `job.sql:2:19: function trigger f: option "on-failure": unknown topic "ops"`,
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH ('command' = 'c',\n 'starting-position' = 'NOW')":            `job.sql:2:2: function trigger f: option "starting-position"`,
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH ('command' = 'c')":                                           `the job has no embedded store`,
		"DROP FUNCTION TRIGGER nope": `job.sql:1:1: function trigger nope does not exist`,
		"CREATE FUNCTION TRIGGER f ON QUEUE q WITH (" + at + ",\n 'command' = 'c', 'starting-position' = 'TRIM_HORIZON')":                         `job.sql:2:19: function trigger f ON QUEUE q: option "starting-position" is for triggers on streams`,
		"CREATE FUNCTION TRIGGER f ON QUEUE q WITH (" + at + ",\n 'command' = 'c', 'on-failure' = 'dlq')":                                         `job.sql:2:19: function trigger f ON QUEUE q: option "on-failure" is for triggers on streams: a queue's messages that keep failing move to its dead-letter queue`,
		"CREATE FUNCTION TRIGGER f ON QUEUE q WITH (" + at + ",\n 'command' = 'c', 'bisect-on-error' = 'false')":                                  `job.sql:2:19: function trigger f ON QUEUE q: option "bisect-on-error"`,
		"CREATE FUNCTION TRIGGER f ON QUEUE q WITH (" + at + ",\n 'command' = 'c', 'max-retry-attempts' = '2')":                                   `job.sql:2:19: function trigger f ON QUEUE q: option "max-retry-attempts"`,
		"CREATE FUNCTION TRIGGER f ON QUEUE q WITH (" + at + ",\n 'command' = 'c', 'positions.dir' = 'p')":                                        `job.sql:2:19: function trigger f ON QUEUE q: option "positions.dir"`,
		"CREATE FUNCTION TRIGGER f ON QUEUE q.fifo WITH (" + at + ",\n 'command' = 'c', 'batch.size' = '20', 'batch.window' = '1 s')":             `job.sql:2:19: function trigger f ON QUEUE q.fifo: option "batch.size" is 20: at most 10 on a FIFO queue`,
		"CREATE FUNCTION TRIGGER f ON QUEUE q WITH (" + at + ",\n 'command' = 'c', 'batch.size' = '20')":                                          `job.sql:2:19: function trigger f ON QUEUE q: option "batch.size" is 20: over 10 (one receive) a queue trigger needs 'batch.window'`,
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH (" + at + ", 'command' = 'c');\nCREATE FUNCTION TRIGGER f ON STREAM s WITH ('command' = 'c')": `job.sql:2:1: function trigger f already exists`,
	} {
		_, err := Compile(src, Options{Parallelism: 1})
		if err == nil || !strings.HasPrefix(err.Error(), want) && !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant %s", src, err, want)
		}
	}
}

func TestFunctionTriggerIsRefusedInTheShell(t *testing.T) {
	s, err := NewSession(Options{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Compile("shell", "CREATE FUNCTION TRIGGER f ON STREAM s WITH ('command' = 'c', 'store.endpoint' = 'http://127.0.0.1:1')")
	if err == nil || !strings.Contains(err.Error(), "runs under `sluice run FILE.sql`") {
		t.Errorf("in a session: %v", err)
	}
}
