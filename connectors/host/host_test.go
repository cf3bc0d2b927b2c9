package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var schema = runtime.NewSchema(
	runtime.Field{Name: "host", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "core", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "cpu", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "mem_used_pct", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
)

func open(t *testing.T, opts map[string]string) runtime.Source {
	t.Helper()
	newSrc, par, err := factory{}.NewSource(connectors.Table{Name: "m", Schema: schema, Options: opts, TimeColumn: -1})
	if err != nil {
		t.Fatal(err)
	}
	if par != 1 {
		t.Fatalf("parallelism %d", par)
	}
	s := newSrc()
	if err := s.Open(rttest.NewContext("m", 0, 1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// poll polls until a batch comes.
func poll(t *testing.T, s runtime.Source) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _, err := s.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if b != nil && b.Len() > 0 {
			return rttest.Strings(b)
		}
	}
	t.Fatal("no sample within 5 s")
	return nil
}

// TestComputesFromProc: busy % from the jiffies between two samples, per
// core, and memory in use, from a /proc of our own.
func TestComputesFromProc(t *testing.T) {
	proc := t.TempDir()
	write := func(stat string) {
		os.WriteFile(filepath.Join(proc, "stat"), []byte(stat), 0o644)
		os.WriteFile(filepath.Join(proc, "meminfo"), []byte("MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 250 kB\n"), 0o644)
	}
	// user nice system idle iowait irq softirq steal guest guest_nice
	write("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\ncpu1 50 0 50 350 50 0 0 0 0 0\nintr 1\n")
	s := open(t, map[string]string{"proc": proc, "interval": "20ms", "per-core": "true", "host.name": "web-1"})
	if b, _, _ := s.Poll(context.Background()); b != nil {
		t.Fatal("the baseline sample must not emit")
	}
	// +300 busy, +100 idle overall: 75%; cpu0 +100 busy +100 idle: 50%; cpu1 +200 busy +0 idle: 100%.
	write("cpu  400 0 100 800 100 0 0 0 0 0\ncpu0 150 0 50 450 50 0 0 0 0 0\ncpu1 250 0 50 350 50 0 0 0 0 0\n")
	rows := poll(t, s)
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "web-1,all,75.0,75.0,") || !strings.HasPrefix(rows[1], "web-1,cpu0,50.0,75.0,") || !strings.HasPrefix(rows[2], "web-1,cpu1,100.0,75.0,") {
		t.Fatalf("rows %q", rows)
	}
}

// TestReadsThisMachine: real samples of this machine are percentages.
func TestReadsThisMachine(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	s := open(t, map[string]string{"interval": "30ms"})
	s.Poll(context.Background())
	rows := poll(t, s)
	if len(rows) != 1 {
		t.Fatalf("rows %q", rows)
	}
	f := strings.Split(rows[0], ",")
	if f[1] != "all" {
		t.Fatalf("row %q", rows[0])
	}
}

func TestBadOptions(t *testing.T) {
	for opts, want := range map[string]string{
		"interval=1ms":   `table m: option "interval": "1ms" must be at least 10ms`,
		"per-core=maybe": `table m: option "per-core": "maybe" is not true or false`,
		"proc=/nowhere":  "cannot read CPU times",
	} {
		k, v, _ := strings.Cut(opts, "=")
		_, _, err := factory{}.NewSource(connectors.Table{Name: "m", Schema: schema, Options: map[string]string{k: v}, TimeColumn: -1})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", opts, err, want)
		}
	}
	bad := runtime.NewSchema(runtime.Field{Name: "load", Type: runtime.Double})
	if _, _, err := (factory{}).NewSource(connectors.Table{Name: "m", Schema: bad, TimeColumn: -1}); err == nil || !strings.Contains(err.Error(), "no such column") {
		t.Errorf("unknown column: %v", err)
	}
}
