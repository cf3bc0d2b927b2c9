package kafka

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors"
)

// TestKafkaFarFutureRecordGoesToErrorsPath: a record dated 9999-12-31 is a
// bad record (errors.path names topic, partition and offset and the
// reason), not a row, and the summary lists where it was.
func TestKafkaFarFutureRecordGoesToErrorsPath(t *testing.T) {
	var log lockedBuffer
	addr := startCluster(t, 1)
	produce(t, addr, "clicks", 0, [][]byte{click("a", 1, 1), []byte(`{"user":"z","n":2,"ts":"9999-12-31T00:00:00Z"}`), click("c", 3, 3)}, nil)
	path := filepath.Join(t.TempDir(), "errors.jsonl")
	d := openSourcesLogged(t, table(addr, map[string]string{"scan.bounded.mode": "latest-offset", "errors.path": path}), 1, nil, &log)
	if got := d.poll(t, -1); len(got) != 2 || got[0] != clickRow("a", 1, 1) || got[1] != clickRow("c", 3, 3) {
		t.Fatalf("read %q, want the 2 sane records", got)
	}
	d.close()
	data, _ := os.ReadFile(path)
	var e struct {
		Topic     string
		Partition int
		Offset    int64
		Error     string
	}
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("errors.path holds %q: %v", data, err)
	}
	if e.Topic != "clicks" || e.Partition != 0 || e.Offset != 1 || !strings.Contains(e.Error, `event time 9999-12-31 00:00:00.000 is more than 24h0m0s ahead of the wall clock`) {
		t.Fatalf("errors.path holds %q", data)
	}
	want := "table t: 1 bad record skipped (topic clicks partition 0 offset 1); in " + path
	if s := connectors.Summaries(); len(s) == 0 || !strings.Contains(strings.Join(s, "\n"), want) {
		t.Fatalf("summaries %q, want %q", s, want)
	}
}
