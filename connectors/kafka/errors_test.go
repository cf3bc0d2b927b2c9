package kafka

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// lockedBuffer is a log output several goroutines may write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOptionErrors: mistakes in options are errors naming the option.
func TestOptionErrors(t *testing.T) {
	f := func(opts map[string]string, sink bool, want string) {
		t.Helper()
		tab := table("127.0.0.1:9092", opts)
		var err error
		if sink {
			_, _, err = factory{}.NewSink(tab)
		} else {
			_, _, err = factory{}.NewSource(tab)
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "table t: ") {
			t.Fatalf("%v: err = %v, want %q", opts, err, want)
		}
	}
	f(map[string]string{"scan.startup.mode": "earliest"}, false, `option "scan.startup.mode": "earliest" is not one of earliest-offset, latest-offset, group-offsets, timestamp, specific-offsets (did you mean "earliest-offset"?)`)
	f(map[string]string{"scan.startup.mode": "timestamp"}, false, `needs option "scan.startup.timestamp-millis"`)
	f(map[string]string{"scan.startup.mode": "specific-offsets", "scan.startup.specific-offsets": "partition:0;x"}, false, `option "scan.startup.specific-offsets"`)
	f(map[string]string{"scan.startup.mode": "group-offsets"}, false, `needs option "properties.group.id"`)
	f(map[string]string{"scan.bounded.mode": "forever"}, false, `option "scan.bounded.mode"`)
	f(map[string]string{"scan.startup.modes": "x"}, false, `did you mean "scan.startup.mode"`)
	f(map[string]string{"properties.bootstrap.servers": "localhost"}, false, `option "properties.bootstrap.servers": "localhost" is not host:port`)
	f(map[string]string{"topic-pattern": "a("}, false, `options "topic" and "topic-pattern" exclude each other`)
	f(map[string]string{"format": "avro"}, false, `option "format": "avro" is not one of json, csv, raw`)
	f(map[string]string{"format": "raw"}, false, `option "format": raw needs exactly one VARCHAR column`)
	f(map[string]string{"properties.security.protocol": "sasl_ssl"}, false, `option "properties.security.protocol" = 'SASL_SSL' needs option "properties.sasl.username"`)
	f(map[string]string{"properties.sasl.username": "u"}, false,
		`option "properties.sasl.username" is only used with 'properties.security.protocol' = 'SASL_PLAINTEXT' or 'SASL_SSL'`)
	f(map[string]string{"properties.security.protocol": "SASL_PLAINTEXT", "properties.sasl.username": "u", "properties.sasl.mechanism": "GSSAPI"}, false, `option "properties.sasl.mechanism"`)
	f(map[string]string{"scan.topic-partition-discovery.interval": "soon"}, false, `option "scan.topic-partition-discovery.interval"`)
	f(map[string]string{"key.fields": "nope"}, true, `option "key.fields": "nope" is not a column of table t`)
	f(map[string]string{"sink.partitioner": "sticky"}, true, `option "sink.partitioner"`)
	f(map[string]string{"properties.acks": "2"}, true, `option "properties.acks"`)
	f(map[string]string{"sink.buffer-flush.max-rows": "0"}, true, `option "sink.buffer-flush.max-rows"`)
}

// TestBrokerErrors: unreachable brokers and unknown topics fail at start,
// naming the address and the topic.
func TestBrokerErrors(t *testing.T) {
	_, err := tryOpen(table("127.0.0.1:1", nil), 1, nil)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.HasPrefix(err.Error(), "table t: kafka brokers 127.0.0.1:1") {
		t.Fatalf("unreachable: err = %v", err)
	}
	newSink, _, _ := factory{}.NewSink(table("127.0.0.1:1", nil))
	s := newSink()
	if err := s.Open(nil2ctx()); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable sink: err = %v", err)
	}
	s.Close()
	addr := startCluster(t, 1)
	_, err = tryOpen(table(addr, map[string]string{"topic": "clickz"}), 1, nil)
	if err == nil || !strings.Contains(err.Error(), `table t: kafka topic "clickz" does not exist on `+addr) {
		t.Fatalf("unknown topic: err = %v", err)
	}
}

// TestBadRecords: a malformed record is counted and reported (rate
// limited, naming topic, partition and offset), or appended to
// errors.path, or, with format.fail-on-error, fails the job; the good
// records around it are read.
func TestBadRecords(t *testing.T) {
	var log lockedBuffer
	addr := startCluster(t, 1)
	produce(t, addr, "clicks", 0, [][]byte{click("a", 1, 1), []byte(`{"user":"b","n":"x"}`), click("c", 3, 3), []byte("not json")}, nil)
	bounded := map[string]string{"scan.bounded.mode": "latest-offset"}
	d := openSourcesLogged(t, table(addr, bounded), 1, nil, &log)
	if got := d.poll(t, -1); len(got) != 2 {
		t.Fatalf("read %v, want the 2 good records", got)
	}
	if n := d.ctxs[0].Metrics.BadRecords.Get(); n != 2 {
		t.Fatalf("%d bad records counted, want 2", n)
	}
	d.close()
	if !strings.Contains(log.String(), `table t: kafka topic "clicks" partition 0 offset 1: `) {
		t.Fatalf("log: %s", log.String())
	}

	path := filepath.Join(t.TempDir(), "errors.jsonl")
	d = openSources(t, table(addr, map[string]string{"scan.bounded.mode": "latest-offset", "errors.path": path}), 1, nil)
	d.poll(t, -1)
	d.close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], `{"topic":"clicks","partition":0,"offset":3,"error":`) || !strings.HasSuffix(lines[1], `"record":"not json"}`) {
		t.Fatalf("errors.path holds %q", data)
	}

	d = openSources(t, table(addr, map[string]string{"scan.bounded.mode": "latest-offset", "format.fail-on-error": "true"}), 1, nil)
	_, err = d.tryPoll(-1, 10*time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), `table t: kafka topic "clicks" partition 0 offset 1: `) {
		t.Fatalf("fail-on-error: err = %v", err)
	}

	// raw: any bytes are a row.
	raw := connectors.Table{Name: "t", Schema: runtime.NewSchema(runtime.Field{Name: "line", Type: runtime.Varchar, Nullable: true}),
		Options: map[string]string{"topic": "clicks", "properties.bootstrap.servers": addr, "format": "raw", "scan.bounded.mode": "latest-offset"}, TimeColumn: -1}
	d = openSources(t, raw, 1, nil)
	if got := d.poll(t, -1); len(got) != 4 || got[0] != "not json" {
		t.Fatalf("raw: %q", got)
	}
}

// TestSASL: SASL PLAIN and SCRAM with the right password read the topic;
// a wrong password fails at start with an authentication error.
func TestSASL(t *testing.T) {
	addr := startCluster(t, 1, kfake.EnableSASL(), kfake.Superuser("PLAIN", "alice", "secret"),
		kfake.Superuser("SCRAM-SHA-256", "bob", "s256"), kfake.Superuser("SCRAM-SHA-512", "carol", "s512"))
	f := func(mech, user, pass string, ok bool) {
		t.Helper()
		tab := table(addr, map[string]string{"scan.bounded.mode": "latest-offset", "properties.security.protocol": "SASL_PLAINTEXT",
			"properties.sasl.mechanism": mech, "properties.sasl.username": user, "properties.sasl.password": pass})
		d, err := tryOpen(tab, 1, nil)
		if !ok {
			if err == nil || !strings.Contains(err.Error(), "authentication failed") || !strings.Contains(err.Error(), addr) {
				t.Fatalf("%s with a wrong password: err = %v", mech, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		defer d.close()
		if got := d.poll(t, -1); len(got) != 0 {
			t.Fatalf("%s: read %v from an empty topic", mech, got)
		}
	}
	f("PLAIN", "alice", "secret", true)
	f("PLAIN", "alice", "wrong", false)
	f("SCRAM-SHA-256", "bob", "s256", true)
	f("SCRAM-SHA-256", "bob", "wrong", false)
	f("SCRAM-SHA-512", "carol", "s512", true)
}
