// Package oracle computes the results of the Nexmark queries
// (bench/nexmark/queries) independently of Sluice: it loads generated
// events into sqlite3 — tables person, auction and bid (the columns of
// Nexmark's views, times as epoch-millisecond integers) and side_input
// (q13's, key = value = 0…9999) — and runs, for each query, a sqlite3
// query (qN.sql here) that computes the same final result as a batch.
//
// How the results are written, for a comparison with Sluice's:
//   - One row per line, comma-separated (sqlite3 -csv; text quoted when it
//     needs it), NULL as \N, in the sink's column order; Run sorts them.
//   - TIMESTAMP(3) values are epoch milliseconds (TimeColumns says
//     which); q1's and q14's DECIMAL(23, 3) prices are exact decimals with
//     three places, "908.000" (DecimalColumns); AVG of a BIGINT is a
//     BIGINT (truncated), as in Flink.
//   - Windows are computed by integer division of epoch ms (TUMBLE 10 s:
//     dateTime / 10000 * 10000); HOP(2 s, 10 s) puts a row in the five
//     windows starting at dateTime / 2000 * 2000 − k·2000, k = 0…4;
//     SESSION(10 s) starts a session when a bidder's gap exceeds 10 s
//     (touching windows merge, as in Flink) and ends it at the last bid +
//     10 s.
//   - Updating results (q4, q6, q9, q15–q19, …) are their final state: what
//     the changelog holds once applied to a multiset.
//   - Ties: the events of Config are 10 ms apart, so no two share a
//     dateTime; Top-N (q19) and top-1 (q6) orders break price ties by the
//     earlier dateTime. Sluice's rank keeps the earlier arrival, which at
//     parallelism > 1 need not be the earlier bid, so a result compares
//     exactly only where no such tie decides it: among Events(10000) no
//     auction has two bids at its winning price (a test checks it), and
//     q6's OVER orders distinct bids by dateTime, which never tie.
//   - q12 groups by processing-time windows, which no batch can know: its
//     oracle gives each bidder's total count (starttime, endtime NULL);
//     compare the sum of a bidder's counts over the windows.
//   - q6, which Flink cannot run (FLINK-19059), is computed as its text
//     intends: each auction's winning bid (the highest price within the
//     auction's lifetime), then per seller the average of the last 11
//     winning prices (ROWS 10 PRECEDING) ordered by dateTime, per row, as
//     a BIGINT truncated toward zero (Flink's AVG of a BIGINT). The seller
//     is written as a number; the sink's VARCHAR holds the same text.
//   - q10 writes DATE_FORMAT(dateTime, 'yyyy-MM-dd') and 'HH:mm' in UTC.
package oracle

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connectors/nexmark"
)

//go:embed q*.sql
var queries embed.FS

// Null is how NULL is written in results.
const Null = `\N`

// Rate is the events' rate (first-event.rate): one event every 10 ms of
// event time, so that no two events share a dateTime.
const Rate = 100

// SideInputRows is the size of q13's side input (Nexmark's: 10000).
const SideInputRows = 10000

// TableOptions returns the nexmark connector options that generate the
// oracle's events: a Sluice table with them reads exactly Events(n).
func TableOptions(n int) map[string]string {
	return map[string]string{"connector": "nexmark", "events.num": strconv.Itoa(n),
		"first-event.rate": strconv.Itoa(Rate), "next-event.rate": strconv.Itoa(Rate)}
}

// Config returns the generator configuration of TableOptions(n).
func Config(n int) nexmark.Config {
	c := nexmark.DefaultConfig()
	c.Events = int64(n)
	c.FirstRate, c.NextRate = Rate, Rate
	return c
}

// Events returns the n events of Config(n).
func Events(n int) []nexmark.Event {
	g := nexmark.NewGenerator(Config(n))
	out := make([]nexmark.Event, n)
	for i := range out {
		out[i] = g.Event(int64(i))
	}
	return out
}

// Queries returns the names of the queries, q0 … q22.
func Queries() []string {
	var out []string
	for i := 0; i <= 22; i++ {
		out = append(out, "q"+strconv.Itoa(i))
	}
	return out
}

// SQL returns the sqlite3 query of query name ("q5").
func SQL(name string) (string, error) {
	b, err := queries.ReadFile(name + ".sql")
	if err != nil {
		return "", fmt.Errorf("oracle: no query %q (queries: q0 … q22)", name)
	}
	return string(b), nil
}

// timeColumns and decimalColumns are, per query, the columns of its sink
// (from 0) that are TIMESTAMP(3) — written as epoch ms — and DECIMAL.
var (
	timeColumns = map[string][]int{"q0": {3}, "q1": {3}, "q7": {3}, "q8": {2}, "q9": {5, 6, 13}, "q10": {3},
		"q11": {2, 3}, "q12": {2, 3}, "q13": {3}, "q14": {4}, "q18": {5}, "q19": {5}, "q20": {5, 11, 12}}
	decimalColumns = map[string][]int{"q1": {2}, "q14": {2}}
)

// TimeColumns returns the columns of query name's rows that are
// TIMESTAMP(3), which the oracle writes as epoch milliseconds.
func TimeColumns(name string) []int { return timeColumns[name] }

// DecimalColumns returns the columns of query name's rows that are
// DECIMAL(23, 3), which the oracle writes exactly with three decimals.
func DecimalColumns(name string) []int { return decimalColumns[name] }

// SQLite returns the path of the sqlite3 program.
func SQLite() (string, error) {
	path, err := exec.LookPath("sqlite3")
	if err != nil {
		return "", errors.New("sqlite3 not installed: apt-get install -y sqlite3")
	}
	return path, nil
}

// Load creates the sqlite3 database db (a file that must not exist) with
// the events and the side input.
func Load(sqlite, db string, events []nexmark.Event) error {
	if _, err := os.Stat(db); err == nil {
		return fmt.Errorf("oracle: %s exists", db)
	}
	var b strings.Builder
	b.WriteString(`BEGIN;
CREATE TABLE person (id INTEGER, name TEXT, emailAddress TEXT, creditCard TEXT, city TEXT, state TEXT,
  dateTime INTEGER, extra TEXT);
CREATE TABLE auction (id INTEGER, itemName TEXT, description TEXT, initialBid INTEGER, reserve INTEGER,
  dateTime INTEGER, expires INTEGER, seller INTEGER, category INTEGER, extra TEXT);
CREATE TABLE bid (auction INTEGER, bidder INTEGER, price INTEGER, channel TEXT, url TEXT, dateTime INTEGER,
  extra TEXT);
CREATE TABLE side_input (key INTEGER, value TEXT);
`)
	for _, e := range events {
		switch e.Type {
		case nexmark.PersonEvent:
			p := e.Person
			fmt.Fprintf(&b, "INSERT INTO person VALUES (%d, %s, %s, %s, %s, %s, %d, %s);\n", p.ID, quote(p.Name),
				quote(p.EmailAddress), quote(p.CreditCard), quote(p.City), quote(p.State), p.DateTime, quote(p.Extra))
		case nexmark.AuctionEvent:
			a := e.Auction
			fmt.Fprintf(&b, "INSERT INTO auction VALUES (%d, %s, %s, %d, %d, %d, %d, %d, %d, %s);\n", a.ID, quote(a.ItemName),
				quote(a.Description), a.InitialBid, a.Reserve, a.DateTime, a.Expires, a.Seller, a.Category, quote(a.Extra))
		default:
			d := e.Bid
			fmt.Fprintf(&b, "INSERT INTO bid VALUES (%d, %d, %d, %s, %s, %d, %s);\n", d.Auction, d.Bidder, d.Price,
				quote(d.Channel), quote(d.URL), d.DateTime, quote(d.Extra))
		}
	}
	for i := range SideInputRows {
		fmt.Fprintf(&b, "INSERT INTO side_input VALUES (%d, '%d');\n", i, i)
	}
	b.WriteString("COMMIT;\n")
	_, err := run(sqlite, b.String(), "-bail", db)
	return err
}

// SideInput returns q13's side input file as Nexmark's generator writes it:
// "key,value" lines.
func SideInput() []byte {
	var b bytes.Buffer
	for i := range SideInputRows {
		fmt.Fprintf(&b, "%d,%d\n", i, i)
	}
	return b.Bytes()
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Run runs the oracle of query name on db and returns its rows, sorted.
func Run(sqlite, db, name string) ([]string, error) {
	q, err := SQL(name)
	if err != nil {
		return nil, err
	}
	out, err := run(sqlite, q, "-readonly", "-bail", "-csv", "-nullvalue", Null, db)
	if err != nil {
		return nil, fmt.Errorf("oracle %s: %w", name, err)
	}
	rows := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(rows) == 1 && rows[0] == "" {
		rows = nil
	}
	slices.Sort(rows)
	return rows, nil
}

func run(sqlite, stdin string, args ...string) ([]byte, error) {
	cmd := exec.Command(sqlite, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("sqlite3: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		return nil, fmt.Errorf("sqlite3: %s", s)
	}
	return stdout.Bytes(), nil
}
