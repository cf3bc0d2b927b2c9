package sql

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/runtime"
)

// nexmarkDDL is Nexmark's table with ROW columns, of the nexmark connector.
const nexmarkDDL = `
CREATE TABLE nexmark (
    event_type INT,
    person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR,
               ` + "`dateTime`" + ` TIMESTAMP(3), extra VARCHAR>,
    auction ROW(id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT,
               ` + "`dateTime`" + ` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR),
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, ` + "`dateTime`" + ` TIMESTAMP(3), extra VARCHAR>,
    ` + "`dateTime`" + ` TIMESTAMP(3),
    WATERMARK FOR ` + "`dateTime`" + ` AS ` + "`dateTime`" + ` - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'events.num' = '20000');
`

// nexmarkEvents returns the first n events of the default configuration.
func nexmarkEvents(n int) []nexmark.Event {
	g := nexmark.NewGenerator(nexmark.DefaultConfig())
	out := make([]nexmark.Event, n)
	for i := range out {
		out[i] = g.Event(int64(i))
	}
	return out
}

func TestSelectRowFieldsOfNexmark(t *testing.T) {
	var want []string
	for _, e := range nexmarkEvents(20000) {
		if e.Type == nexmark.BidEvent && e.Bid.Price > 1_000_000 {
			want = append(want, fmt.Sprintf("%d,%d,%s", e.Bid.Auction, e.Bid.Price, e.Bid.Channel))
		}
	}
	sort.Strings(want)
	for _, par := range []int{1, 2} {
		run(t, nexmarkDDL+`
CREATE TABLE out WITH ('connector' = 'append');
INSERT INTO out SELECT bid.auction, bid.price, nexmark.bid.channel FROM nexmark WHERE event_type = 2 AND bid.price > 1000000;`, par)
		got := collected("out").Sorted()
		if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("parallelism %d: %d rows, want %d", par, len(got), len(want))
		}
	}
}

func TestGroupByAndWindowOverRowFields(t *testing.T) {
	count := map[int64]int{}
	perWindow := map[int64]int{}
	for _, e := range nexmarkEvents(20000) {
		if e.Type == nexmark.BidEvent {
			count[e.Bid.Auction]++
			perWindow[e.Time/1000*1000]++
		}
	}
	var want, wantWin []string
	for a, n := range count {
		want = append(want, fmt.Sprintf("%d,%d", a, n))
	}
	for w, n := range perWindow {
		wantWin = append(wantWin, fmt.Sprintf("%s,%d", runtime.FormatTimestamp(w), n))
	}
	sort.Strings(want)
	sort.Strings(wantWin)
	for _, par := range []int{1, 2} {
		run(t, nexmarkDDL+`
CREATE TABLE byAuction WITH ('connector' = 'collect');
CREATE TABLE perSecond WITH ('connector' = 'append');
INSERT INTO byAuction SELECT bid.auction, COUNT(*) AS n FROM nexmark WHERE event_type = 2 GROUP BY bid.auction;
INSERT INTO perSecond SELECT TUMBLE_START(dateTime, INTERVAL '1' SECOND) AS ws, COUNT(*) AS n
FROM nexmark WHERE event_type = 2 GROUP BY TUMBLE(dateTime, INTERVAL '1' SECOND);`, par)
		final := map[string]int{}
		kinds := collected("byAuction").Kinds()
		for i, r := range collected("byAuction").Strings() {
			if k := kinds[i]; k == runtime.UpdateBefore || k == runtime.Delete {
				final[r]--
			} else {
				final[r]++
			}
		}
		var got []string
		for r, n := range final {
			if n < 0 {
				t.Fatalf("parallelism %d: %s retracted more often than added", par, r)
			}
			if n > 0 {
				got = append(got, r)
			}
		}
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("parallelism %d: bids per auction: %d rows, want %d", par, len(got), len(want))
		}
		if got := collected("perSecond").Sorted(); strings.Join(got, "\n") != strings.Join(wantWin, "\n") {
			t.Fatalf("parallelism %d: bids per second\n%s\nwant\n%s", par, strings.Join(got, "\n"), strings.Join(wantWin, "\n"))
		}
	}
}

func TestRowColumnErrorsNameTheFields(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT person FROM nexmark":            "column person is a ROW: select its fields (person.id, person.name,",
		"SELECT bid.prize FROM nexmark":         `ROW column bid has no field "prize" (did you mean "bid.price"?)`,
		"SELECT n.bid FROM nexmark AS n":        "column n.bid is a ROW: select its fields (bid.auction,",
		"SELECT nexmark.bid.prize FROM nexmark": `unknown column "nexmark.bid.prize" (did you mean "bid.price"?)`,
	} {
		_, err := Compile(nexmarkDDL+"CREATE TABLE out WITH ('connector' = 'append');\nINSERT INTO out "+q+";", Options{Parallelism: 1})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", q, err, want)
		}
	}
}
