package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/nexmark"
)

// TestRunSelectsRowFieldsOfTheNexmarkTable: `sluice run` of a file with
// Nexmark's table (ROW columns) and a query on bid fields, as q2.
func TestRunSelectsRowFieldsOfTheNexmarkTable(t *testing.T) {
	ddl, err := os.ReadFile("../../bench/nexmark/ddl.sql")
	if err != nil {
		t.Fatal(err)
	}
	// The table of bench/nexmark/ddl.sql (its views need CREATE VIEW), with fewer events.
	table, _, _ := strings.Cut(string(ddl), "CREATE VIEW")
	table = strings.Replace(table, "'events.num' = '100000000'", "'events.num' = '20000'", 1)
	job := filepath.Join(t.TempDir(), "q2.sql")
	q := table + "\nSELECT bid.auction, bid.price FROM nexmark WHERE event_type = 2 AND MOD(bid.auction, 123) = 0;\n"
	if err := os.WriteFile(job, []byte(q), 0o644); err != nil {
		t.Fatal(err)
	}
	got := resultRows(t, exec.Command(binary, "run", job, "--parallelism", "2"))

	g := nexmark.NewGenerator(nexmark.DefaultConfig())
	var want []string
	for n := range int64(20000) {
		if e := g.Event(n); e.Type == nexmark.BidEvent && e.Bid.Auction%123 == 0 {
			want = append(want, fmt.Sprintf("%d, %d", e.Bid.Auction, e.Bid.Price))
		}
	}
	sort.Strings(want)
	if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%d rows, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}
