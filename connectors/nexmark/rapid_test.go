package nexmark_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestSourceEmitsTheGeneratorsEventsForAnyOptions: for random options and
// parallelism, a job reading the table gets exactly events 0…n-1 of the
// generator with the same configuration, each once, in the proportions
// asked.
func TestSourceEmitsTheGeneratorsEventsForAnyOptions(t *testing.T) {
	s := runtime.NewSchema(field("event_type"), field("dateTime"), field("person.id"), field("auction.id"),
		field("auction.seller"), field("bid.auction"), field("bid.bidder"), field("bid.price"))
	rapid.Check(t, func(rt *rapid.T) {
		c := nexmark.DefaultConfig()
		c.Events = rapid.Int64Range(1, 6000).Draw(rt, "events")
		c.Seed = rapid.Int64().Draw(rt, "seed")
		c.PersonProportion = rapid.Int64Range(1, 5).Draw(rt, "person")
		c.AuctionProportion = rapid.Int64Range(1, 5).Draw(rt, "auction")
		c.BidProportion = rapid.Int64Range(0, 60).Draw(rt, "bid")
		c.FirstRate = rapid.Int64Range(1, 1_000_000).Draw(rt, "rate")
		c.NextRate = c.FirstRate
		c.OutOfOrderGroup = rapid.SampledFrom([]int64{1, 1, 7, 100}).Draw(rt, "group")
		par := rapid.IntRange(1, 4).Draw(rt, "parallelism")
		o := opts("events.num", strconv.FormatInt(c.Events, 10), "seed", strconv.FormatInt(c.Seed, 10),
			"person.proportion", strconv.FormatInt(c.PersonProportion, 10),
			"auction.proportion", strconv.FormatInt(c.AuctionProportion, 10),
			"bid.proportion", strconv.FormatInt(c.BidProportion, 10),
			"first-event.rate", strconv.FormatInt(c.FirstRate, 10),
			"out-of-order.group-size", strconv.FormatInt(c.OutOfOrderGroup, 10))

		newSrc, err := newSource(t, s, o)
		if err != nil {
			rt.Fatal(err)
		}
		coll, sink := rttest.NewCollector(s)
		g := runtime.NewGraph("nexmark")
		src := g.AddSource("gen", s, par, newSrc, runtime.NoWatermarks)
		g.Connect(src, g.AddOperator("sink", s, par, 1, sink), runtime.Forward)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := runtime.Run(ctx, g, runtime.Options{Parallelism: par}); err != nil {
			rt.Fatal(err)
		}
		got := coll.Sorted()

		gen := nexmark.NewGenerator(c)
		total := c.PersonProportion + c.AuctionProportion + c.BidProportion
		// The first cut events hold whole groups of both kinds: their
		// event ids are 0…cut-1, in exact proportions.
		cut := c.Events / (total * c.OutOfOrderGroup) * (total * c.OutOfOrderGroup)
		var want []string
		var counts [3]int64
		for n := range c.Events {
			e := gen.Event(n)
			if n < cut {
				counts[e.Type]++
			}
			r := []runtime.Value{{Type: runtime.Int, I: int64(e.Type)}, runtime.TimeValue(e.Time)}
			null := runtime.NullValue(runtime.BigInt)
			switch e.Type {
			case nexmark.PersonEvent:
				r = append(r, runtime.IntValue(e.Person.ID), null, null, null, null, null)
			case nexmark.AuctionEvent:
				r = append(r, null, runtime.IntValue(e.Auction.ID), runtime.IntValue(e.Auction.Seller), null, null, null)
			default:
				r = append(r, null, null, null, runtime.IntValue(e.Bid.Auction), runtime.IntValue(e.Bid.Bidder), runtime.IntValue(e.Bid.Price))
			}
			want = append(want, rttest.Format(r))
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			rt.Fatalf("parallelism %d: %d events differ from the generator's %d", par, len(got), len(want))
		}
		groups := cut / total
		if want := [3]int64{groups * c.PersonProportion, groups * c.AuctionProportion, groups * c.BidProportion}; counts != want {
			rt.Fatalf("the first %d events: people, auctions, bids %v, want %v", cut, counts, want)
		}
	})
}
