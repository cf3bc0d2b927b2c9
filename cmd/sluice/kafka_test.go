package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// needKcat skips the test loudly when kcat is missing, or fails it when
// SLUICE_REQUIRE_TOOLS=1 (as in CI, which installs it).
func needKcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		msg := "kcat is not installed (apt-get install kcat): the Kafka interop test is skipped"
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (SLUICE_REQUIRE_TOOLS=1 requires it)", msg)
		}
		t.Skip("WARNING: " + msg)
	}
	return path
}

func startBroker(t *testing.T, topics ...string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// TestKcatProducesSluiceReads: kcat writes JSON records into three
// partitions, each in time order but the partitions far apart in time; a
// Sluice job reads the topic to its end and counts per page and second —
// exactly, as no record is late per partition.
func TestKcatProducesSluiceReads(t *testing.T) {
	kcat := needKcat(t)
	broker := startBroker(t, "clicks")
	want := map[string]int{}
	for p := range 3 {
		var lines bytes.Buffer
		for i := range 1000 {
			// Partition p starts p seconds later: out of order across partitions.
			ms := int64(p*1000 + i*3)
			page := (i + p) % 4
			fmt.Fprintf(&lines, `{"page":%d,"ts":%d}`+"\n", page, 1764064800000+ms)
			want[fmt.Sprintf("%d,%d", page, (1764064800000+ms)/1000*1000+1000)]++
		}
		cmd := exec.Command(kcat, "-P", "-b", broker, "-t", "clicks", "-p", fmt.Sprint(p))
		cmd.Stdin = &lines
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P: %v\n%s", err, out)
		}
	}
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	os.WriteFile(job, []byte(fmt.Sprintf(`
CREATE TABLE clicks (page BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = '%s',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE counts WITH ('connector' = 'file', 'path' = '%s/counts', 'format' = 'json');
INSERT INTO counts SELECT page, TUMBLE_END(ts, INTERVAL '1' SECOND) AS window_end, COUNT(*) AS n
  FROM clicks GROUP BY page, TUMBLE(ts, INTERVAL '1' SECOND);
`, broker, dir)), 0o644)
	if out, err := exec.Command(binary, "run", job, "--parallelism", "2").CombinedOutput(); err != nil {
		t.Fatalf("job: %v\n%s", err, out)
	}
	got := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "counts", "part-*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if line == "" {
				continue
			}
			var row struct {
				Page      int
				WindowEnd time.Time `json:"window_end"`
				N         int
			}
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			page, ts, n := row.Page, row.WindowEnd.UnixMilli(), row.N
			got[fmt.Sprintf("%d,%d", page, ts)] += n
		}
	}
	if fmt.Sprint(sortedKeys(got)) != fmt.Sprint(sortedKeys(want)) {
		t.Fatalf("windows %v, want %v", sortedKeys(got), sortedKeys(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("window %s: %d, want %d", k, got[k], n)
		}
	}
}

// TestSluiceWritesKcatConsumes: a Sluice job writes generated rows to a
// topic, keyed by a column; kcat reads every record back with its key.
func TestSluiceWritesKcatConsumes(t *testing.T) {
	kcat := needKcat(t)
	broker := startBroker(t, "out")
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	os.WriteFile(job, []byte(fmt.Sprintf(`
CREATE TABLE gen (id BIGINT, name VARCHAR)
  WITH ('connector' = 'datagen', 'number-of-rows' = '2000', 'fields.id.kind' = 'sequence', 'fields.name.length' = '8');
CREATE TABLE out (id BIGINT, name VARCHAR)
  WITH ('connector' = 'kafka', 'topic' = 'out', 'properties.bootstrap.servers' = '%s', 'format' = 'json', 'key.fields' = 'id');
INSERT INTO out SELECT id, name FROM gen;
`, broker)), 0o644)
	if out, err := exec.Command(binary, "run", job, "--parallelism", "2").CombinedOutput(); err != nil {
		t.Fatalf("job: %v\n%s", err, out)
	}
	out, err := exec.Command(kcat, "-C", "-b", broker, "-t", "out", "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	seen := map[int64]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		key, value, ok := strings.Cut(line, "\t")
		var row struct {
			ID   int64
			Name string
		}
		if !ok || json.Unmarshal([]byte(value), &row) != nil || len(row.Name) != 8 {
			t.Fatalf("record %q", line)
		}
		if !strings.Contains(key, fmt.Sprint(row.ID)) {
			t.Fatalf("record %q: the key does not hold id %d", line, row.ID)
		}
		seen[row.ID] = true
	}
	if len(seen) != 2000 {
		t.Fatalf("%d distinct ids read back, want 2000", len(seen))
	}
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
