package nexmark

import (
	"math"
	"math/bits"
	"strconv"
	"sync"
)

// Event types, the values of the event_type column.
const (
	PersonEvent  = 0
	AuctionEvent = 1
	BidEvent     = 2
)

// The model's constants, as in Nexmark.
const (
	firstPersonID   = 1000
	firstAuctionID  = 1000
	firstCategoryID = 10
	numCategories   = 5
	personIDLead    = 10
	auctionIDLead   = 10
	hotGroup        = 100 // hot sellers, bidders and auctions are the first of each group of 100
	hotChannelsOdds = 2
	numChannels     = 10000
	minStringLength = 3
	reusableExtra   = 1 << 20 // extras are substrings of one random string of this length
	// outOfOrderPrime spreads the event numbers of an out-of-order group:
	// number k of group base b is b + (k·953 mod n).
	outOfOrderPrime = 953
)

// Config is the generator's configuration: the connector's options, parsed.
// The zero value is not usable; start from DefaultConfig.
type Config struct {
	Seed int64
	// Events is the number of events; 0: unbounded.
	Events int64
	// FirstRate and NextRate are the event rates (events per second of
	// event time, for the whole source) the rate shape alternates between
	// every RatePeriodSec; equal rates: one constant rate.
	FirstRate, NextRate int64
	RateShape           string // "square" or "sine"
	RatePeriodSec       int64
	// BaseTime is the event time of event 0, epoch milliseconds.
	BaseTime int64

	PersonProportion, AuctionProportion, BidProportion int64

	AvgPersonSize, AvgAuctionSize, AvgBidSize int64 // bytes

	HotAuctionRatio, HotSellerRatio, HotBidderRatio int64
	AuctionsInFlight                                int64
	ActivePeople                                    int64
	// OutOfOrderGroup is the size of the groups of events whose order is
	// shuffled (1: in order).
	OutOfOrderGroup int64
}

// DefaultConfig returns Nexmark's defaults (NexmarkConfiguration), with a
// fixed base time so that the events are reproducible.
func DefaultConfig() Config {
	return Config{
		FirstRate: 10000, NextRate: 10000, RateShape: "square", RatePeriodSec: 600,
		BaseTime:         defaultBaseTime,
		PersonProportion: 1, AuctionProportion: 3, BidProportion: 46,
		AvgPersonSize: 200, AvgAuctionSize: 500, AvgBidSize: 100,
		HotAuctionRatio: 2, HotSellerRatio: 4, HotBidderRatio: 4,
		AuctionsInFlight: 100, ActivePeople: 1000, OutOfOrderGroup: 1,
	}
}

// defaultBaseTime is 2015-07-15T00:00:00Z, the base time of Nexmark's
// original generator.
const defaultBaseTime = 1436918400000

// Person, Auction and Bid are the three kinds of event. Times are epoch
// milliseconds.
type Person struct {
	ID                                          int64
	Name, EmailAddress, CreditCard, City, State string
	DateTime                                    int64
	Extra                                       string
}

// Auction is an item put up for sale.
type Auction struct {
	ID                    int64
	ItemName, Description string
	InitialBid, Reserve   int64
	DateTime, Expires     int64
	Seller, Category      int64
	Extra                 string
}

// Bid is a bid on an auction.
type Bid struct {
	Auction, Bidder, Price int64
	Channel, URL           string
	DateTime               int64
	Extra                  string
}

// Event is one generated event: Type says which of Person, Auction and Bid
// holds it (the others are zero).
type Event struct {
	Number  int64 // its position in the stream, 0, 1, 2, …
	Type    int
	Time    int64 // event time, epoch ms (that of its Person, Auction or Bid)
	Person  Person
	Auction Auction
	Bid     Bid
}

// Generator computes events from their numbers. It is immutable and safe
// for concurrent use.
type Generator struct {
	cfg   Config
	total int64 // sum of the proportions
	// Event time: with one rate, event n is at BaseTime + n·delayUs[0]/1000.
	// With a rate shape, the delays of the steps of one period (epoch).
	delayUs        []float64
	stepEvents     []int64 // events of each step
	stepMs         []int64 // duration of each step
	epochEvents    int64
	epochMs        int64
	auctionHorizon int64 // events until AuctionsInFlight more auctions
	seed           uint64
}

// NewGenerator returns the generator of cfg, which must be valid (the
// connector checks its options; see Config).
func NewGenerator(cfg Config) *Generator {
	tablesOnce.Do(buildTables)
	g := &Generator{cfg: cfg, total: cfg.PersonProportion + cfg.AuctionProportion + cfg.BidProportion}
	g.seed = mix(uint64(cfg.Seed)*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019)
	if cfg.FirstRate == cfg.NextRate {
		g.delayUs = []float64{1e6 / float64(cfg.FirstRate)}
	} else {
		steps := 2
		if cfg.RateShape == "sine" {
			steps = 10
		}
		stepSec := (cfg.RatePeriodSec + int64(steps) - 1) / int64(steps)
		for i := range steps {
			rate := float64(cfg.NextRate)
			if steps == 2 && i == 0 {
				rate = float64(cfg.FirstRate)
			} else if steps > 2 {
				// From the first rate at step 0 to the next rate halfway
				// through the period and back, along a cosine.
				frac := (1 - math.Cos(2*math.Pi*float64(i)/float64(steps))) / 2
				rate = float64(cfg.FirstRate) + (float64(cfg.NextRate)-float64(cfg.FirstRate))*frac
			}
			d := 1e6 / rate
			n := max(int64(float64(stepSec)*1e6/d), 1)
			g.delayUs = append(g.delayUs, d)
			g.stepEvents = append(g.stepEvents, n)
			g.stepMs = append(g.stepMs, int64(float64(n)*d/1000))
			g.epochEvents += n
			g.epochMs += int64(float64(n) * d / 1000)
		}
	}
	g.auctionHorizon = cfg.AuctionsInFlight * g.total / cfg.AuctionProportion
	return g
}

// Config returns the generator's configuration.
func (g *Generator) Config() Config { return g.cfg }

// TimeOf returns the event time of event number n (before the out-of-order
// shuffle: the time of the n-th event slot).
func (g *Generator) TimeOf(n int64) int64 {
	if len(g.stepEvents) == 0 {
		return g.cfg.BaseTime + int64(float64(n)*g.delayUs[0])/1000
	}
	epoch, i := n/g.epochEvents, n%g.epochEvents
	off := int64(0)
	for s, steps := range g.stepEvents {
		if i < steps {
			off += int64(float64(i)*g.delayUs[s]) / 1000
			break
		}
		i -= steps
		off += g.stepMs[s]
	}
	return g.cfg.BaseTime + epoch*g.epochMs + off
}

// adjusted returns the event id of the n-th event: n itself, or with
// out-of-order groups, its place shuffled within its group.
func (g *Generator) adjusted(n int64) int64 {
	k := g.cfg.OutOfOrderGroup
	if k <= 1 {
		return n
	}
	return n/k*k + n*outOfOrderPrime%k
}

// TypeOf returns the type of event number n.
func (g *Generator) TypeOf(n int64) int {
	rem := g.adjusted(n) % g.total
	switch {
	case rem < g.cfg.PersonProportion:
		return PersonEvent
	case rem < g.cfg.PersonProportion+g.cfg.AuctionProportion:
		return AuctionEvent
	}
	return BidEvent
}

// lastPerson is the base-0 id of the last person generated at or before
// event id.
func (g *Generator) lastPerson(id int64) int64 {
	epoch, off := id/g.total, id%g.total
	if off >= g.cfg.PersonProportion {
		off = g.cfg.PersonProportion - 1
	}
	return epoch*g.cfg.PersonProportion + off
}

// lastAuction is the base-0 id of the last auction generated at or before
// event id.
func (g *Generator) lastAuction(id int64) int64 {
	epoch, off := id/g.total, id%g.total
	switch {
	case off < g.cfg.PersonProportion:
		epoch--
		off = g.cfg.AuctionProportion - 1
	case off >= g.cfg.PersonProportion+g.cfg.AuctionProportion:
		off = g.cfg.AuctionProportion - 1
	default:
		off -= g.cfg.PersonProportion
	}
	return epoch*g.cfg.AuctionProportion + off
}

// somePerson picks a base-0 person id among the active people, or a few
// ahead of the last one.
func (g *Generator) somePerson(id int64, r *rng) int64 {
	people := g.lastPerson(id) + 1
	active := min(people, g.cfg.ActivePeople)
	return people - active + r.intn(active+personIDLead)
}

// someAuction picks a base-0 auction id among those likely in flight, or
// a few ahead of the last one.
func (g *Generator) someAuction(id int64, r *rng) int64 {
	last := g.lastAuction(id)
	lo := max(last-g.cfg.AuctionsInFlight, 0)
	return lo + r.intn(last-lo+1+auctionIDLead)
}

// Event returns event number n.
func (g *Generator) Event(n int64) Event {
	var e Event
	var buf []byte
	g.event(n, &e, &buf, true)
	return e
}

// event computes event n into e. The strings that need an allocation
// (email, credit card, item name, description) are built in buf and made
// strings only when materialize is set; the other fields are always set.
func (g *Generator) event(n int64, e *Event, buf *[]byte, materialize bool) {
	id := g.adjusted(n)
	t := g.TimeOf(id)
	r := rng{s: mix(g.seed ^ uint64(id)*0xbf58476d1ce4e5b9)}
	e.Number, e.Time = n, t
	switch rem := id % g.total; {
	case rem < g.cfg.PersonProportion:
		e.Type = PersonEvent
		g.person(id, t, &e.Person, &r, buf, materialize)
	case rem < g.cfg.PersonProportion+g.cfg.AuctionProportion:
		e.Type = AuctionEvent
		g.auction(id, t, &e.Auction, &r, buf, materialize)
	default:
		e.Type = BidEvent
		g.bid(id, t, &e.Bid, &r)
	}
}

func (g *Generator) person(id, t int64, p *Person, r *rng, buf *[]byte, mat bool) {
	p.ID = g.lastPerson(id) + firstPersonID
	p.Name = personNames[r.intn(int64(len(personNames)))]
	b := (*buf)[:0]
	b = r.appendString(b, 7, ' ')
	b = append(b, '@')
	b = r.appendString(b, 5, ' ')
	b = append(b, ".com"...)
	emailLen := len(b)
	for i := range 4 {
		if i > 0 {
			b = append(b, ' ')
		}
		c := r.intn(10000)
		b = append(b, byte('0'+c/1000), byte('0'+c/100%10), byte('0'+c/10%10), byte('0'+c%10))
	}
	*buf = b
	p.EmailAddress, p.CreditCard = "", ""
	if mat {
		p.EmailAddress, p.CreditCard = string(b[:emailLen]), string(b[emailLen:])
	}
	p.City = usCities[r.intn(int64(len(usCities)))]
	p.State = usStates[r.intn(int64(len(usStates)))]
	p.DateTime = t
	size := 8 + int64(len(p.Name)+len(b)+len(p.City)+len(p.State))
	p.Extra = r.extra(size, g.cfg.AvgPersonSize)
}

func (g *Generator) auction(id, t int64, a *Auction, r *rng, buf *[]byte, mat bool) {
	a.ID = g.lastAuction(id) + firstAuctionID
	if r.intn(g.cfg.HotSellerRatio) > 0 {
		a.Seller = g.lastPerson(id) / hotGroup * hotGroup
	} else {
		a.Seller = g.somePerson(id, r)
	}
	a.Seller += firstPersonID
	a.Category = firstCategoryID + r.intn(numCategories)
	a.InitialBid = r.price()
	// An auction lasts on average until AuctionsInFlight more auctions
	// have started.
	horizon := g.TimeOf(id+g.auctionHorizon) - t
	a.Expires = t + 1 + r.intn(max(horizon*2, 1))
	b := r.appendString((*buf)[:0], 20, ' ')
	nameLen := len(b)
	b = r.appendString(b, 100, ' ')
	*buf = b
	a.ItemName, a.Description = "", ""
	if mat {
		a.ItemName, a.Description = string(b[:nameLen]), string(b[nameLen:])
	}
	a.Reserve = a.InitialBid + r.price()
	a.DateTime = t
	a.Extra = r.extra(8+int64(len(b))+5*8, g.cfg.AvgAuctionSize)
}

func (g *Generator) bid(id, t int64, b *Bid, r *rng) {
	if r.intn(g.cfg.HotAuctionRatio) > 0 {
		b.Auction = g.lastAuction(id) / hotGroup * hotGroup
	} else {
		b.Auction = g.someAuction(id, r)
	}
	b.Auction += firstAuctionID
	if r.intn(g.cfg.HotBidderRatio) > 0 {
		// The second person of the group, so hot bidders are not hot sellers.
		b.Bidder = g.lastPerson(id)/hotGroup*hotGroup + 1
	} else {
		b.Bidder = g.somePerson(id, r)
	}
	b.Bidder += firstPersonID
	b.Price = r.price()
	if r.intn(hotChannelsOdds) > 0 {
		i := r.intn(int64(len(hotChannels)))
		b.Channel, b.URL = hotChannels[i], hotURLs[i]
	} else {
		i := r.intn(numChannels)
		b.Channel, b.URL = channels[i], channelURLs[i]
	}
	b.DateTime = t
	b.Extra = r.extra(4*8, g.cfg.AvgBidSize)
}

// rng is a SplitMix64 stream: each event draws from its own, seeded by
// (seed, event id), so an event does not depend on any other.
type rng struct{ s uint64 }

func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix(r.s)
}

// intn returns a value uniform in [0, n), n > 0.
func (r *rng) intn(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

// float returns a value uniform in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// price returns a price in cents, log-uniform between 1 and 10^6 dollars.
func (r *rng) price() int64 { return int64(math.Round(math.Exp(r.float()*6*math.Ln10) * 100)) }

// appendString appends a string of minStringLength to maxLen-1 characters:
// lower-case letters with, one time in 13, special; spaces at its ends
// are trimmed.
func (r *rng) appendString(b []byte, maxLen int64, special byte) []byte {
	n := minStringLength + r.intn(maxLen-minStringLength)
	start := len(b)
	for range n {
		c := special
		if r.intn(13) != 0 {
			c = byte('a' + r.intn(26))
		}
		b = append(b, c)
	}
	if special == ' ' {
		s := b[start:]
		lo, hi := 0, len(s)
		for lo < hi && s[lo] == ' ' {
			lo++
		}
		for hi > lo && s[hi-1] == ' ' {
			hi--
		}
		b = b[:start+copy(s, s[lo:hi])]
	}
	return b
}

// extra returns padding that brings an event of size bytes to avg bytes
// on average (±20%): a substring of one large random string, so it costs
// no allocation.
func (r *rng) extra(size, avg int64) string {
	if size > avg {
		return ""
	}
	avg -= size
	delta := int64(math.Round(float64(avg) * 0.2))
	n := avg - delta
	if delta > 0 {
		n += r.intn(2 * delta)
	}
	off := r.intn(int64(len(extraText)) - n)
	return extraText[off : off+n]
}

// Fixed tables, the same for every seed.
var (
	usStates    = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities    = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	personNames = func() []string {
		first := []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
		last := []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
		var out []string
		for _, f := range first {
			for _, l := range last {
				out = append(out, f+" "+l)
			}
		}
		return out
	}()
	hotChannels           = []string{"Google", "Facebook", "Baidu", "Apple"}
	hotURLs               []string
	channels, channelURLs []string
	extraText             string
)

// tablesOnce builds the channel, URL and extra-text tables when the first
// generator is made, not when the package loads: every sluice command links
// this package, and most never generate an event.
var tablesOnce sync.Once

func buildTables() {
	r := rng{s: 0x6e65786d61726b} // "nexmark"
	baseURL := func() string {
		b := []byte("https://www.nexmark.com/")
		for range 3 {
			b = r.appendString(b, 5, '_')
			b = append(b, '/')
		}
		return string(append(b, "item.htm?query=1"...))
	}
	for range hotChannels {
		hotURLs = append(hotURLs, baseURL())
	}
	channels = make([]string, numChannels)
	channelURLs = make([]string, numChannels)
	for i := range numChannels {
		u := baseURL()
		if r.intn(10) > 0 {
			u += "&channel_id=" + strconv.FormatUint(uint64(bits.Reverse32(uint32(i))), 10)
		}
		channels[i], channelURLs[i] = "channel-"+strconv.Itoa(i), u
	}
	b := make([]byte, reusableExtra)
	for i := range b {
		b[i] = byte('a' + r.intn(26))
	}
	extraText = string(b)
}
