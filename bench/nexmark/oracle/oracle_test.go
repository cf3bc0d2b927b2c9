package oracle

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	benchmark "github.com/sluicehq/sluice/bench/nexmark"
	"github.com/sluicehq/sluice/connectors/nexmark"
)

// events is the oracle test's event count.
const events = 10000

func needSQLite(t *testing.T) string {
	t.Helper()
	path, err := SQLite()
	if err != nil {
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%v (SLUICE_REQUIRE_TOOLS=1 requires it)", err)
		}
		t.Skip("SKIPPING THE NEXMARK ORACLE TEST: " + err.Error())
	}
	return path
}

// db is the database of Events(events), loaded once by TestMain ("" when
// sqlite3 is missing).
var db string

func TestMain(m *testing.M) {
	code := func() int {
		if sqlite, err := SQLite(); err == nil {
			dir, err := os.MkdirTemp("", "nexmark-oracle")
			if err != nil {
				panic(err)
			}
			defer os.RemoveAll(dir)
			db = filepath.Join(dir, "nexmark.db")
			if err := Load(sqlite, db, Events(events)); err != nil {
				panic(err)
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func loaded(t *testing.T) (string, string) {
	t.Helper()
	return needSQLite(t), db
}

func runQ(t *testing.T, sqlite, db, name string) []string {
	t.Helper()
	rows, err := Run(sqlite, db, name)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func same(t *testing.T, name string, got, want []string) {
	t.Helper()
	sort.Strings(want)
	if len(want) == 0 {
		t.Fatalf("%s: the hand computation has no rows", name)
	}
	if !slices.Equal(got, want) {
		n := 0
		for n < min(len(got), len(want)) && got[n] == want[n] {
			n++
		}
		var g, w string
		if n < len(got) {
			g = got[n]
		}
		if n < len(want) {
			w = want[n]
		}
		t.Fatalf("%s: %d rows, want %d; first difference at row %d:\n got %s\nwant %s", name, len(got), len(want), n, g, w)
	}
}

func bids() []nexmark.Bid {
	var out []nexmark.Bid
	for _, e := range Events(events) {
		if e.Type == nexmark.BidEvent {
			out = append(out, e.Bid)
		}
	}
	return out
}

func TestEveryOracleQueryGivesPlausibleRows(t *testing.T) {
	sqlite, db := loaded(t)
	var nBids, nAuctions int
	bidders, channels := map[int64]bool{}, map[string]bool{}
	for _, e := range Events(events) {
		switch e.Type {
		case nexmark.BidEvent:
			nBids++
			bidders[e.Bid.Bidder] = true
			channels[e.Bid.Channel] = true
		case nexmark.AuctionEvent:
			nAuctions++
		}
	}
	count := map[string]int{}
	for _, q := range Queries() {
		rows := runQ(t, sqlite, db, q)
		count[q] = len(rows)
		t.Logf("%s: %d rows", q, len(rows))
		if len(rows) == 0 {
			t.Errorf("%s: no rows", q)
		}
		if _, err := benchmark.Query(q); err != nil {
			t.Errorf("%s: no benchmark query: %v", q, err)
		}
	}
	for _, c := range []struct {
		q        string
		min, max int
	}{
		{"q0", nBids, nBids}, {"q1", nBids, nBids}, {"q10", nBids, nBids}, {"q13", nBids, nBids}, {"q22", nBids, nBids},
		{"q2", 1, nBids / 50}, {"q4", 1, 5}, {"q9", nAuctions / 2, nAuctions}, {"q6", count["q9"], count["q9"]},
		{"q7", 1, events / Rate / 10 * 3}, {"q12", len(bidders), len(bidders)}, {"q15", 1, 1},
		{"q16", len(channels), len(channels)}, {"q17", nAuctions / 2, nAuctions + 100}, {"q18", len(bidders), nBids},
		{"q19", nAuctions / 2, nBids}, {"q21", nBids / 2, nBids}, {"q11", len(bidders) + 1, nBids},
	} {
		if n := count[c.q]; n < c.min || n > c.max {
			t.Errorf("%s: %d rows, want %d to %d", c.q, n, c.min, c.max)
		}
	}
}

func TestOracleOfTheSimpleQueriesMatchesGo(t *testing.T) {
	sqlite, db := loaded(t)
	var q0, q1, q2 []string
	for _, b := range bids() {
		q0 = append(q0, fmt.Sprintf("%d,%d,%d,%d,%s", b.Auction, b.Bidder, b.Price, b.DateTime, b.Extra))
		euro := b.Price * 908
		q1 = append(q1, fmt.Sprintf("%d,%d,%d.%03d,%d,%s", b.Auction, b.Bidder, euro/1000, euro%1000, b.DateTime, b.Extra))
		if b.Auction%123 == 0 {
			q2 = append(q2, fmt.Sprintf("%d,%d", b.Auction, b.Price))
		}
	}
	same(t, "q0", runQ(t, sqlite, db, "q0"), q0)
	same(t, "q1", runQ(t, sqlite, db, "q1"), q1)
	same(t, "q2", runQ(t, sqlite, db, "q2"), q2)
	var q22 []string
	for _, b := range bids() {
		dirs := strings.Split(b.URL, "/")[3:6]
		q22 = append(q22, fmt.Sprintf("%d,%d,%d,%s,%s", b.Auction, b.Bidder, b.Price, b.Channel, strings.Join(dirs, ",")))
	}
	same(t, "q22", runQ(t, sqlite, db, "q22"), q22)
}

func TestOracleOfSessionsAndDedupMatchesGo(t *testing.T) {
	sqlite, db := loaded(t)
	// q11: sessions of a bidder's bids, gap 10 s.
	byBidder := map[int64][]int64{}
	type key struct{ bidder, auction int64 }
	last := map[key]nexmark.Bid{}
	perAuction := map[int64]int{}
	for _, b := range bids() {
		byBidder[b.Bidder] = append(byBidder[b.Bidder], b.DateTime)
		k := key{b.Bidder, b.Auction}
		if prev, ok := last[k]; !ok || b.DateTime > prev.DateTime {
			last[k] = b
		}
		perAuction[b.Auction]++
	}
	var q11, q18 []string
	for bidder, ts := range byBidder {
		slices.Sort(ts)
		start, n := ts[0], 1
		for i := 1; i <= len(ts); i++ {
			if i == len(ts) || ts[i]-ts[i-1] > 10000 {
				q11 = append(q11, fmt.Sprintf("%d,%d,%d,%d", bidder, n, start, ts[i-1]+10000))
				if i < len(ts) {
					start, n = ts[i], 0
				}
			}
			n++
		}
	}
	for _, b := range last {
		q18 = append(q18, fmt.Sprintf("%d,%d,%d,%s,%s,%d,%s", b.Auction, b.Bidder, b.Price, b.Channel, b.URL, b.DateTime, b.Extra))
	}
	same(t, "q11", runQ(t, sqlite, db, "q11"), q11)
	same(t, "q18", runQ(t, sqlite, db, "q18"), q18)
	if sessions := len(q11); sessions <= len(byBidder) {
		t.Errorf("q11: %d sessions of %d bidders: every bidder has one (want the data to have gaps)", sessions, len(byBidder))
	}
	// q19: min(10, bids) rows per auction.
	want := 0
	for _, n := range perAuction {
		want += min(n, 10)
	}
	if got := len(runQ(t, sqlite, db, "q19")); got != want {
		t.Errorf("q19: %d rows, want %d", got, want)
	}
}

func TestEventsAreThoseOfTheConnectorOptions(t *testing.T) {
	// TableOptions and Config describe the same events: 10 ms apart.
	evs := Events(100)
	for i, e := range evs {
		if want := int64(1436918400000 + 10*i); e.Time != want {
			t.Fatalf("event %d at %d, want %d", i, e.Time, want)
		}
	}
	if o := TableOptions(100); o["events.num"] != "100" || o["first-event.rate"] != strconv.Itoa(Rate) {
		t.Fatalf("options %v", o)
	}
}

func TestSideInputFileIsNexmarks(t *testing.T) {
	if !bytes.Equal(benchmark.SideInput(), SideInput()) {
		t.Fatal("bench/nexmark/data/side_input.txt is not SideInput()")
	}
}

// sinkColumn matches a column of a sink's CREATE TABLE: name and type.
var sinkColumn = regexp.MustCompile("(?m)^\\s+`?(\\w+)`?\\s+([A-Z]+)")

func TestTimeAndDecimalColumnsAreTheSinks(t *testing.T) {
	for _, q := range Queries() {
		text, err := benchmark.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		_, sink, _ := strings.Cut(text, "CREATE TABLE nexmark_"+q+" (")
		sink, _, _ = strings.Cut(sink, ") WITH (")
		sink, _, _ = strings.Cut(sink, ") PARTITIONED BY")
		var times, decimals []int
		for i, m := range sinkColumn.FindAllStringSubmatch(sink, -1) {
			switch m[2] {
			case "TIMESTAMP":
				times = append(times, i)
			case "DECIMAL":
				decimals = append(decimals, i)
			}
		}
		if !slices.Equal(times, TimeColumns(q)) || !slices.Equal(decimals, DecimalColumns(q)) {
			t.Errorf("%s: the sink's TIMESTAMP columns are %v and DECIMAL %v; TimeColumns %v, DecimalColumns %v",
				q, times, decimals, TimeColumns(q), DecimalColumns(q))
		}
	}
}
