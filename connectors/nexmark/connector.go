// Package nexmark is the 'nexmark' connector: a source of the Nexmark
// benchmark's events — people, auctions and bids of an online auction
// house — modelled on Flink's nexmark generator, with its option names.
//
//	CREATE TABLE nexmark (
//	  event_type INT,
//	  person  ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR,
//	              city VARCHAR, state VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR>,
//	  auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT,
//	              reserve BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3),
//	              seller BIGINT, category BIGINT, extra VARCHAR>,
//	  bid     ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR,
//	              url VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR>,
//	  dateTime AS CASE WHEN event_type = 0 THEN person.dateTime
//	                   WHEN event_type = 1 THEN auction.dateTime ELSE bid.dateTime END,
//	  WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
//	) WITH ('connector' = 'nexmark', 'events.num' = '10000000');
//
// The catalog flattens ROW columns into columns named person.id,
// person.name, …; the connector fills columns by those names, any subset in
// any order (names are matched case-insensitively): event_type (0 person,
// 1 auction, 2 bid) and the fields of the three ROWs. The fields of the
// ROWs an event is not are NULL. Nexmark's DDL computes the event's time,
// dateTime, from the ROWs (above): the planner computes it, the connector
// never sees it. A table may instead declare a physical dateTime
// TIMESTAMP(3) column, which the connector fills with the same value.
// Any other column is refused, naming the columns it knows.
//
// The model (Nexmark's): events are numbered 0, 1, 2, …; of each group of
// person.proportion + auction.proportion + bid.proportion events (1 : 3 :
// 46 by default) the first are people, then auctions, then bids. Person and
// auction ids count up from 1000. An auction's seller, and a bid's bidder
// and auction, are often "hot" — the first person (seller), second person
// (bidder) or first auction of the latest group of 100 — with odds set by
// the hot-ratio options (a ratio r makes a pick hot with chance 1 − 1/r:
// 3/4 of sellers and bidders, 1/2 of the bids' auctions by default), else
// a person among the last person.num-active or an auction among the last
// auction.num-in-flight, or one of the next 10 (not yet generated). Event n occurs at base-time +
// n / first-event.rate seconds (with a next-event.rate other than
// first-event.rate, the rate alternates between the two every half
// rate.period, or follows a sine for 'rate.shape' = 'sine'). Prices are
// log-uniform from $1 to $1,000,000, in cents; an auction expires, on
// average, when auction.num-in-flight more auctions have started. Each
// event carries an `extra` string that brings it to the average size of
// its kind (person.avg-size …).
//
// Determinism: event n is a pure function of (seed, n) — its random
// draws come from a generator seeded by both — so the events are the same
// at any parallelism. Events are dealt to subtasks in blocks of
// runtime.DefaultBatchRows (with 'rate.limited', of at most 10 ms of event
// time at the slower rate, so that no subtask waits long for its next
// block and holds the watermark back): subtask s of p generates blocks s,
// s+p, …, so each subtask's event time increases and the subtasks advance
// together.
// With 'out-of-order.group-size' = 'k' the events of each group of k are
// shuffled (in event id and time) among themselves, as Nexmark's
// out-of-order groups: a watermark delay of k / first-event.rate seconds
// then drops none as late.
//
// Differences from Flink's generator, which starts each subtask's events
// at the base time and draws from an unseeded random generator: here the
// events do not depend on the parallelism or the run; base-time is fixed
// (2015-07-15, Nexmark's original base time) unless set ('now' for the
// wall clock); a bidder is a person id (Flink's generator adds 1000 twice);
// the strings are drawn as Flink's but not the same ones.
//
// The source is unbounded unless events.num is set, and runs as fast as it
// can unless 'rate.limited' = 'true' (or Flink's 'max-emit-speed' =
// 'false'): then event time follows the wall clock from the start, at
// first-event.rate events per second for the whole source (a source
// restored from a checkpoint goes on from its first event not yet emitted,
// at once).
//
// Checkpoints: a subtask's position is the number of the next event it
// emits; a restored subtask emits exactly the events an undisturbed one
// would have. A job restored with another number of source subtasks is
// refused.
package nexmark

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

var options = []connectors.Option{
	{Key: "events.num", Type: connectors.Int, Default: "0", Min: "0", Doc: "events to generate; `0`: no end"},
	{Key: "first-event.rate", Type: connectors.Int, Default: "10000", Min: "1",
		Doc: "events per second of event time, for the whole source (with `rate.limited`, of wall-clock time too)"},
	{Key: "next-event.rate", Type: connectors.Int, Min: "1", DefaultDoc: "`first-event.rate`",
		Doc: "the rate the rate shape alternates with (when it differs from `first-event.rate`)"},
	{Key: "rate.shape", Type: connectors.Enum, Default: "square", Values: []string{"square", "sine"},
		Doc: "how the rate goes from first to next and back each `rate.period`"},
	{Key: "rate.period", Type: connectors.Seconds, Default: "600", Min: "1s", Doc: "the period of the rate shape"},
	{Key: "rate.limited", Type: connectors.Bool, Default: "false",
		Doc: "`true`: emit events when the wall clock reaches their time (from the start); `false`: as fast as possible"},
	{Key: "max-emit-speed", Type: connectors.Bool, Default: "true", Doc: "Flink's name for the opposite of `rate.limited`"},
	{Key: "person.proportion", Type: connectors.Int, Default: "1", Min: "1", Max: "1000", Doc: "people per group of events"},
	{Key: "auction.proportion", Type: connectors.Int, Default: "3", Min: "1", Max: "1000", Doc: "auctions per group of events"},
	{Key: "bid.proportion", Type: connectors.Int, Default: "46", Min: "0", Max: "1000", Doc: "bids per group of events"},
	{Key: "person.avg-size", Type: connectors.Size, Default: "200b", Max: "256kb", Doc: "average size of a person (its `extra` pads it)"},
	{Key: "auction.avg-size", Type: connectors.Size, Default: "500b", Max: "256kb", Doc: "average size of an auction"},
	{Key: "bid.avg-size", Type: connectors.Size, Default: "100b", Max: "256kb", Doc: "average size of a bid"},
	{Key: "bid.hot-ratio.auctions", Type: connectors.Int, Default: "2", Min: "1",
		Doc: "a bid is on a hot auction with chance 1 − 1/ratio"},
	{Key: "bid.hot-ratio.bidders", Type: connectors.Int, Default: "4", Min: "1",
		Doc: "a bid is by a hot bidder with chance 1 − 1/ratio"},
	{Key: "auction.hot-ratio.sellers", Type: connectors.Int, Default: "4", Min: "1",
		Doc: "an auction is by a hot seller with chance 1 − 1/ratio"},
	{Key: "auction.num-in-flight", Type: connectors.Int, Default: "100", Min: "1", Max: "1000000",
		Doc: "auctions open at a time, on average; bids pick among the latest this many"},
	{Key: "person.num-active", Type: connectors.Int, Default: "1000", Min: "1",
		Doc: "sellers and bidders are picked among the latest this many people"},
	{Key: "out-of-order.group-size", Type: connectors.Int, Default: "1", Min: "1",
		Doc: "events are shuffled within groups of this many (`1`: in order)"},
	{Key: "base-time", Type: connectors.String, Default: "2015-07-15T00:00:00Z",
		Doc:   "the time of event 0, in the years 0001–9999: RFC 3339, epoch milliseconds, or `now` (the wall clock when the job starts)",
		Parse: parseBaseTime},
	{Key: "seed", Type: connectors.Int, Default: "0", Doc: "event n depends only on (seed, n)"},
}

// The years a base time may be in, as epoch milliseconds: event times
// outside them are not TIMESTAMP(3) values a window can place (every event
// would be dropped as late).
var (
	minBaseTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxBaseTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() - 1
)

func parseBaseTime(s string) (any, error) {
	if strings.EqualFold(s, "now") {
		return time.Now().UnixMilli(), nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t, perr := time.Parse(time.RFC3339Nano, s)
		if perr != nil {
			return nil, fmt.Errorf("%q is neither 'now', epoch milliseconds nor a time in RFC 3339 form (e.g. 2015-07-15T00:00:00Z)", s)
		}
		ms = t.UnixMilli()
	}
	if ms < minBaseTime || ms > maxBaseTime {
		return nil, fmt.Errorf("%q is outside the years 0001–9999 (epoch milliseconds %d to %d)", s, minBaseTime, maxBaseTime)
	}
	return ms, nil
}

// factory is the 'nexmark' connector (a source).
type factory struct{}

func (factory) Name() string                 { return "nexmark" }
func (factory) Options() []connectors.Option { return options }

func (factory) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	cfg, err := parse(t)
	if err != nil {
		return nil, 0, err
	}
	return func() runtime.Source { return &Source{cfg: cfg} }, 0, nil
}

// config is a parsed nexmark table, shared read-only by its subtasks.
type config struct {
	table  string
	schema *runtime.Schema
	gen    *Generator
	fields []field // of each column of the schema
	paced  bool
	perSec float64
}

func parse(t connectors.Table) (*config, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, err
	}
	if t.Schema == nil || t.Schema.Len() == 0 {
		return nil, fmt.Errorf("table %s: a nexmark table needs at least one column (%s)", t.Name, strings.Join(FieldNames(), ", "))
	}
	c := DefaultConfig()
	c.Events = o.Int("events.num")
	c.FirstRate = o.Int("first-event.rate")
	c.NextRate = c.FirstRate
	if o.Has("next-event.rate") {
		c.NextRate = o.Int("next-event.rate")
	}
	c.RateShape = o.Enum("rate.shape")
	c.RatePeriodSec = int64(o.Duration("rate.period") / time.Second)
	c.PersonProportion, c.AuctionProportion, c.BidProportion = o.Int("person.proportion"), o.Int("auction.proportion"), o.Int("bid.proportion")
	c.AvgPersonSize, c.AvgAuctionSize, c.AvgBidSize = o.Size("person.avg-size"), o.Size("auction.avg-size"), o.Size("bid.avg-size")
	c.HotAuctionRatio, c.HotBidderRatio, c.HotSellerRatio = o.Int("bid.hot-ratio.auctions"), o.Int("bid.hot-ratio.bidders"), o.Int("auction.hot-ratio.sellers")
	c.AuctionsInFlight, c.ActivePeople = o.Int("auction.num-in-flight"), o.Int("person.num-active")
	c.OutOfOrderGroup = o.Int("out-of-order.group-size")
	if c.OutOfOrderGroup%outOfOrderPrime == 0 {
		return nil, o.Errorf("out-of-order.group-size", "%d is a multiple of %d, which the shuffle cannot use; pick another size", c.OutOfOrderGroup, outOfOrderPrime)
	}
	c.BaseTime = o.Value("base-time").(int64)
	c.Seed = o.Int("seed")
	if o.Has("rate.limited") && o.Has("max-emit-speed") && o.Bool("rate.limited") == o.Bool("max-emit-speed") {
		return nil, o.Err("options 'rate.limited' = '%v' and 'max-emit-speed' = '%v' disagree (set one)", o.Bool("rate.limited"), o.Bool("max-emit-speed"))
	}
	cfg := &config{table: t.Name, schema: t.Schema, gen: NewGenerator(c),
		paced: o.Bool("rate.limited") || !o.Bool("max-emit-speed"), perSec: float64(c.FirstRate)}
	seen := map[field]bool{}
	for _, f := range t.Schema.Fields {
		fd, err := lookupField(t.Name, f)
		if err != nil {
			return nil, err
		}
		if seen[fd] {
			return nil, fmt.Errorf("table %s: column %s is there twice", t.Name, f.Name)
		}
		seen[fd] = true
		cfg.fields = append(cfg.fields, fd)
	}
	return cfg, nil
}

// field is a column the connector fills.
type field int

// The known columns, in the order of Nexmark's DDL.
const (
	fEventType field = iota
	fPersonID
	fPersonName
	fPersonEmail
	fPersonCreditCard
	fPersonCity
	fPersonState
	fPersonDateTime
	fPersonExtra
	fAuctionID
	fAuctionItemName
	fAuctionDescription
	fAuctionInitialBid
	fAuctionReserve
	fAuctionDateTime
	fAuctionExpires
	fAuctionSeller
	fAuctionCategory
	fAuctionExtra
	fBidAuction
	fBidBidder
	fBidPrice
	fBidChannel
	fBidURL
	fBidDateTime
	fBidExtra
	fDateTime
	numFields
)

var fieldDefs = [numFields]struct {
	name string
	typ  runtime.Type
}{
	{"event_type", runtime.Int},
	{"person.id", runtime.BigInt}, {"person.name", runtime.Varchar}, {"person.emailAddress", runtime.Varchar},
	{"person.creditCard", runtime.Varchar}, {"person.city", runtime.Varchar}, {"person.state", runtime.Varchar},
	{"person.dateTime", runtime.Timestamp}, {"person.extra", runtime.Varchar},
	{"auction.id", runtime.BigInt}, {"auction.itemName", runtime.Varchar}, {"auction.description", runtime.Varchar},
	{"auction.initialBid", runtime.BigInt}, {"auction.reserve", runtime.BigInt}, {"auction.dateTime", runtime.Timestamp},
	{"auction.expires", runtime.Timestamp}, {"auction.seller", runtime.BigInt}, {"auction.category", runtime.BigInt},
	{"auction.extra", runtime.Varchar},
	{"bid.auction", runtime.BigInt}, {"bid.bidder", runtime.BigInt}, {"bid.price", runtime.BigInt},
	{"bid.channel", runtime.Varchar}, {"bid.url", runtime.Varchar}, {"bid.dateTime", runtime.Timestamp},
	{"bid.extra", runtime.Varchar},
	{"dateTime", runtime.Timestamp},
}

// FieldNames returns the columns a nexmark table can have, as Nexmark's
// DDL names them (ROW fields flattened to row.field).
func FieldNames() []string {
	out := make([]string, numFields)
	for i, d := range fieldDefs {
		out[i] = d.name
	}
	return out
}

// eventOf says which event type a field belongs to (-1: all).
func (f field) eventOf() int {
	switch {
	case f >= fPersonID && f <= fPersonExtra:
		return PersonEvent
	case f >= fAuctionID && f <= fAuctionExtra:
		return AuctionEvent
	case f >= fBidAuction && f <= fBidExtra:
		return BidEvent
	}
	return -1
}

func lookupField(table string, col runtime.Field) (field, error) {
	for i, d := range fieldDefs {
		if !strings.EqualFold(d.name, col.Name) {
			continue
		}
		ok := col.Type == d.typ || (field(i) == fEventType && col.Type == runtime.BigInt)
		if !ok {
			return 0, fmt.Errorf("table %s: column %s is %v; the nexmark connector fills it with %v values", table, col.Name, col.Type, d.typ)
		}
		if field(i).eventOf() >= 0 && !col.Nullable {
			return 0, fmt.Errorf("table %s: column %s is NOT NULL, but it is NULL in the events that are not %ss", table, col.Name,
				[]string{"person", "auction", "bid"}[field(i).eventOf()])
		}
		return field(i), nil
	}
	msg := fmt.Sprintf("table %s: the nexmark connector has no column %q", table, col.Name)
	msg += suggest.Hint(col.Name, FieldNames())
	return 0, fmt.Errorf("%s; its columns: %s", msg, strings.Join(FieldNames(), ", "))
}
