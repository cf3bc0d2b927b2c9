// Package sns is Sluice's notification topics, with the semantics of Amazon
// SNS: a Topic fans each published Message out to its subscriptions; a
// subscription whose filter policy matches gets its own copy and delivers
// it to its endpoint — an HTTP/S URL (SNS's notification envelope, or the
// raw body), a JSON-lines file, standard output (readable, for a human
// watching alarms), a stream of Sluice's store, or a queue of the store
// through its SQS API (protocol sqs; what queued meanwhile goes in
// SendMessageBatch requests).
//
// FIFO topics. A topic whose name ends in ".fifo" delivers only to queues;
// every message has a GroupID and gets a sequence number, and a message
// whose deduplication id was published within DeduplicationWindow is not
// delivered. FIFO queues get the group and deduplication ids, so a group
// keeps its order; a FIFO queue cannot subscribe to a standard topic.
//
// Delivery. Each subscription has a bounded queue and one goroutine that
// delivers its messages in the order they were published; a slow or dead
// endpoint holds up only its own subscription. Publish never waits for a
// subscription: a message that finds a subscription's queue full goes to
// that subscription's dead-letter target with the reason "subscription
// queue full" (or, without one, is counted and logged), as if its retries
// were spent; the other subscriptions get it as usual. A failed attempt (an
// HTTP answer other than 2xx, a timeout of 15 s, a connection error, a
// failed write) is retried following the subscription's delivery policy, SNS's
// HTTP/S delivery policy with its four phases (immediate, pre-backoff,
// backoff, post-backoff; see SubscriptionConfig.DeliveryPolicy), which
// applies here to every protocol. When the retries are spent the message
// goes to the subscription's dead-letter target (a JSON-lines file, a
// stream or a queue) with the reason and the number of attempts; a subscription
// without one reports it on standard error (at most about once a second,
// with a count of the others). No message is dropped silently. The first
// failed attempt after a success is logged, naming the subscription, and so
// is the next success (at most one such episode every 10 s).
//
// Envelopes are not signed: Signature, SigningCertURL and UnsubscribeURL
// are empty, so receivers must not verify SNS signatures on them.
//
// Lifecycle. The owner of a Topic calls Close: it stops taking messages,
// delivers what is queued (with retries) until its context ends or the
// topic's DrainTimeout has passed, then dead-letters what is left and waits
// for every goroutine. Flush waits
// until everything published so far is delivered or dead-lettered.
//
// Metrics (VictoriaMetrics' default set), labelled topic and subscription:
// sluice_sns_published_total (topic only), sluice_sns_filtered_out_total,
// sluice_sns_deliveries_total, sluice_sns_delivery_retries_total,
// sluice_sns_delivery_failures_total (failed attempts),
// sluice_sns_dead_letters_total (every message not delivered, whether
// written to a dead-letter target or logged), sluice_sns_queue_full_total
// (messages that found the queue full), sluice_sns_deduplicated_total
// (FIFO topics, topic only) and the histogram
// sluice_sns_delivery_seconds (from Publish to the successful delivery).
package sns

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/connectors/sns/filter"
	"github.com/sluicehq/sluice/runtime"
)

// Defaults and limits, in one place.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "000000000000"
	// DefaultAttemptTimeout bounds one delivery attempt, as SNS does.
	DefaultAttemptTimeout = 15 * time.Second
	// DefaultQueueBytes bounds the bytes of messages queued for one
	// subscription.
	DefaultQueueBytes = 8 << 20
	// MaxMessageBytes is SNS's limit on a message: body and attributes.
	MaxMessageBytes = 256 << 10
	// MaxSubjectChars is SNS's limit on a subject.
	MaxSubjectChars = 100
	// MaxAttributes is SNS's limit on message attributes.
	MaxAttributes = 10
	// abortWrite bounds the writing of dead letters after Close's context
	// has ended.
	abortWrite = 5 * time.Second
)

// ErrClosed is returned by Publish and Subscribe on a closed topic.
var ErrClosed = errors.New("sns: topic is closed")

// ErrInvalidMessage is wrapped by Publish's errors about a message that
// breaks SNS's rules (empty body, too big, bad subject or attributes).
var ErrInvalidMessage = errors.New("invalid message")

// Attribute is a message attribute: Type "String", "Number", "Binary" or
// "String.Array" (Value is then a JSON array).
type Attribute = filter.Attribute

// Message is what is published to a topic.
type Message struct {
	ID         string // a UUID v4; Publish sets it when empty
	Subject    string
	Body       string // the message text (an alarm: CloudWatch's notification JSON)
	Attributes map[string]Attribute
	Timestamp  time.Time // Publish sets it when zero
	// GroupID is the message group of a message published to a FIFO topic
	// (required there, refused elsewhere): messages of one group are
	// delivered in the order they were published.
	GroupID string
	// DeduplicationID goes with the message to FIFO queues (FIFO topics
	// only); "" = the SHA-256 of the body, in hex (content-based
	// deduplication).
	DeduplicationID string
}

// TopicOptions place a topic: its ARN is
// arn:aws:sns:<Region>:<Account>:<name>.
type TopicOptions struct {
	Region  string // "" = DefaultRegion
	Account string // "" = DefaultAccount
	// DrainTimeout bounds the delivery of what is queued at Close (besides
	// Close's context); 0 = Close's context only.
	DrainTimeout time.Duration
	// Logger receives the topic's warnings (nil: runtime.DefaultLogger).
	Logger *slog.Logger
	// Metrics receives the counters of the topic and its subscriptions,
	// sluice_sns_*; the job's set, so that jobs in one process count apart.
	// Nil: a set of the topic's own, registered for /metrics
	// (metrics.WritePrometheus) until Close.
	Metrics *metrics.Set
}

// Topic is a named topic and its subscriptions. It is safe for concurrent
// use. Its owner must Close it: it owns a goroutine per subscription.
type Topic struct {
	name   string
	arn    string
	fifo   bool          // the name ends in .fifo
	fifoMu sync.Mutex    // FIFO: held by Publish from the sequence number to the queues (mu released; queue locks under it)
	seq    atomic.Uint64 // FIFO: the last sequence number given

	published *metrics.Counter
	dedupped  *metrics.Counter // FIFO: duplicates not delivered
	dedup     dedupWindow      // FIFO: the deduplication ids of the last 5 minutes
	http      *http.Client     // HTTP/S deliveries; its connections are closed by Close
	drain     time.Duration
	log       *slog.Logger
	set       *metrics.Set // where its counters are
	ownSet    bool         // set is the topic's: Close unregisters it

	ctx    context.Context // ends when Close gives up on delivering
	cancel context.CancelFunc
	wg     sync.WaitGroup // the subscriptions' goroutines

	// mu guards subs and closed; a subscription's queue lock is taken
	// after it, never before.
	mu     sync.RWMutex
	subs   []*Subscription // copied on write
	closed bool
}

var (
	topicName   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	fifoName    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,251}\.fifo$`)
	groupIDRe   = regexp.MustCompile(`^[!-~]{1,128}$`) // SNS's: 1 to 128 printable ASCII characters, no space
	regionRe    = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	accountRe   = regexp.MustCompile(`^[0-9]{12}$`)
	attrNameRe  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)
	attrTypeStr = []string{"String", "Number", "Binary"}
)

// NewTopic returns a topic named name ([A-Za-z0-9_-], 1 to 256 characters,
// as SNS). A name that ends in ".fifo" makes a FIFO topic: every message
// needs a GroupID, gets a sequence number, and the topic delivers only to
// subscriptions of protocol sqs, as SNS's FIFO topics.
func NewTopic(name string, o TopicOptions) (*Topic, error) {
	fifo := fifoName.MatchString(name)
	if !topicName.MatchString(name) && !fifo {
		return nil, fmt.Errorf("topic name %q: want 1 to 256 letters, digits, '-' or '_' (a FIFO topic: ending in .fifo)", name)
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Account == "" {
		o.Account = DefaultAccount
	}
	if !regionRe.MatchString(o.Region) {
		return nil, fmt.Errorf("topic %s: region %q: want lower-case letters, digits and '-'", name, o.Region)
	}
	if !accountRe.MatchString(o.Account) {
		return nil, fmt.Errorf("topic %s: account %q: want 12 digits", name, o.Account)
	}
	if o.DrainTimeout < 0 {
		return nil, fmt.Errorf("topic %s: drain timeout %v is negative", name, o.DrainTimeout)
	}
	if o.Logger == nil {
		o.Logger = runtime.DefaultLogger()
	}
	ownSet := o.Metrics == nil
	if ownSet {
		o.Metrics = metrics.NewSet()
		metrics.RegisterSet(o.Metrics)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t := &Topic{
		name:      name,
		fifo:      fifo,
		arn:       "arn:aws:sns:" + o.Region + ":" + o.Account + ":" + name,
		published: o.Metrics.GetOrCreateCounter(fmt.Sprintf(`sluice_sns_published_total{topic=%q}`, name)),
		dedup:     dedupWindow{ids: map[string]dedupSeen{}, now: time.Now},
		drain:     o.DrainTimeout,
		log:       o.Logger,
		set:       o.Metrics,
		ownSet:    ownSet,
		http: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // as SNS: a redirect is not a delivery
		}},
	}
	if fifo {
		t.dedupped = o.Metrics.GetOrCreateCounter(fmt.Sprintf(`sluice_sns_deduplicated_total{topic=%q}`, name))
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t, nil
}

// Metrics returns the set that holds the counters of the topic and its
// subscriptions (TopicOptions.Metrics, or the topic's own), for what counts
// beside them, such as the instances of the alarms that publish to it.
func (t *Topic) Metrics() *metrics.Set { return t.set }

// FIFO tells whether the topic is a FIFO topic (its name ends in .fifo).
func (t *Topic) FIFO() bool { return t.fifo }

// Name returns the topic's name.
func (t *Topic) Name() string { return t.name }

// ARN returns the topic's ARN.
func (t *Topic) ARN() string { return t.arn }

// Publish sends m to every subscription whose filter policy matches it and
// returns its message ID. Each copy is queued for delivery; Publish never
// blocks: a copy that finds its subscription's queue full goes to the
// subscription's dead-letter target (or is counted and logged). It fails
// with ErrClosed once Close
// has begun (copies queued before are still delivered), and with an error
// wrapping ErrInvalidMessage for a message SNS would refuse. On a FIFO
// topic, a message whose deduplication id was published within the
// DeduplicationWindow is not delivered: Publish returns the ID of the
// first.
func (t *Topic) Publish(m Message) (string, error) {
	if err := t.checkFIFO(&m); err != nil {
		return "", fmt.Errorf("topic %s: %w", t.name, err)
	}
	if err := checkMessage(&m); err != nil {
		return "", fmt.Errorf("topic %s: %w", t.name, err)
	}
	t.mu.RLock()
	subs, closed := t.subs, t.closed
	t.mu.RUnlock()
	if closed {
		return "", ErrClosed
	}
	if m.ID == "" {
		m.ID = newUUID()
	}
	if m.Timestamp.IsZero() {
		m.Timestamp = time.Now()
	}
	m.Timestamp = m.Timestamp.UTC()
	var seq string
	if t.fifo {
		// One publish at a time, so that every queue gets the messages in
		// the order of their sequence numbers.
		t.fifoMu.Lock()
		defer t.fifoMu.Unlock()
		if m.DeduplicationID == "" {
			sum := sha256.Sum256([]byte(m.Body))
			m.DeduplicationID = hex.EncodeToString(sum[:])
		}
		if first, dup := t.dedup.seen(m.DeduplicationID, m.ID); dup {
			t.dedupped.Inc()
			return first, nil
		}
		seq = fmt.Sprintf("%020d", t.seq.Add(1))
	}
	t.published.Inc()
	n := &notification{msg: m, published: time.Now(), envelope: encodeEnvelope(t.arn, seq, &m)}
	body := []byte(m.Body)
	for _, s := range subs {
		if !s.policy.Match(m.Attributes, body) {
			s.m.filteredOut.Inc()
			continue
		}
		switch err := s.q.push(n); {
		case errors.Is(err, errQueueFull):
			s.overflow(n)
		case err != nil:
			return m.ID, err
		}
	}
	return m.ID, nil
}

// DeduplicationWindow is how long a FIFO topic remembers a deduplication
// id: a message published again with it within this time is not
// delivered, as in SNS.
const DeduplicationWindow = 5 * time.Minute

// dedupWindow holds the deduplication ids a FIFO topic took in the last
// DeduplicationWindow, and the message ID each was published with.
type dedupWindow struct {
	now   func() time.Time // time.Now; tests set another clock
	mu    sync.Mutex
	ids   map[string]dedupSeen
	order []dedupKey // in publish order, for expiry
}

type dedupSeen struct {
	msgID string
	at    time.Time
}

type dedupKey struct {
	id string
	at time.Time
}

// seen records id for the message msgID, or tells the ID of the message
// that took id within the window.
func (w *dedupWindow) seen(id, msgID string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	for len(w.order) > 0 && now.Sub(w.order[0].at) >= DeduplicationWindow {
		k := w.order[0]
		if s, ok := w.ids[k.id]; ok && s.at.Equal(k.at) {
			delete(w.ids, k.id)
		}
		w.order = w.order[1:]
	}
	if s, ok := w.ids[id]; ok {
		return s.msgID, true
	}
	w.ids[id] = dedupSeen{msgID: msgID, at: now}
	w.order = append(w.order, dedupKey{id: id, at: now})
	return "", false
}

// GroupFor turns a name (an alarm's, a trigger's) into a valid group id for
// a FIFO topic: characters other than printable ASCII become '_', and it is
// cut at 128 bytes.
func GroupFor(name string) string {
	b := make([]byte, 0, min(len(name), 128))
	for _, r := range name {
		if len(b) == 128 {
			break
		}
		if r < '!' || r > '~' {
			r = '_'
		}
		b = append(b, byte(r))
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// checkFIFO applies the rules of FIFO topics on a message's group and
// deduplication ids: required (the group) on a FIFO topic, refused on a
// standard one.
func (t *Topic) checkFIFO(m *Message) error {
	if !t.fifo {
		if m.GroupID != "" || m.DeduplicationID != "" {
			return fmt.Errorf("%w: a group id or deduplication id is for FIFO topics only (names ending in .fifo)", ErrInvalidMessage)
		}
		return nil
	}
	if !groupIDRe.MatchString(m.GroupID) {
		return fmt.Errorf("%w: group id %q: a FIFO topic needs one of 1 to 128 printable ASCII characters", ErrInvalidMessage, m.GroupID)
	}
	if m.DeduplicationID != "" && !groupIDRe.MatchString(m.DeduplicationID) {
		return fmt.Errorf("%w: deduplication id %q: want 1 to 128 printable ASCII characters", ErrInvalidMessage, m.DeduplicationID)
	}
	return nil
}

// checkMessage applies SNS's rules on a message.
func checkMessage(m *Message) error {
	if m.Body == "" {
		return fmt.Errorf("%w: empty body", ErrInvalidMessage)
	}
	size := len(m.Body)
	for name, a := range m.Attributes {
		size += len(name) + len(a.Type) + len(a.Value)
	}
	if size > MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes of body and attributes, more than %d", ErrInvalidMessage, size, MaxMessageBytes)
	}
	if !utf8.ValidString(m.Body) {
		return fmt.Errorf("%w: body is not UTF-8", ErrInvalidMessage)
	}
	if m.Subject != "" {
		if n := utf8.RuneCountInString(m.Subject); n > MaxSubjectChars {
			return fmt.Errorf("%w: subject of %d characters, more than %d", ErrInvalidMessage, n, MaxSubjectChars)
		}
		for _, r := range m.Subject {
			if r < ' ' || r == 0x7f || r > 0x7e {
				return fmt.Errorf("%w: subject %q: want printable ASCII on one line", ErrInvalidMessage, m.Subject)
			}
		}
	}
	if len(m.Attributes) > MaxAttributes {
		return fmt.Errorf("%w: %d attributes, more than %d", ErrInvalidMessage, len(m.Attributes), MaxAttributes)
	}
	for name, a := range m.Attributes {
		if !attrNameRe.MatchString(name) || strings.HasPrefix(strings.ToLower(name), "aws.") {
			return fmt.Errorf("%w: attribute name %q", ErrInvalidMessage, name)
		}
		if !validAttrType(a.Type) {
			return fmt.Errorf("%w: attribute %s: type %q (want String, Number, Binary or String.Array)", ErrInvalidMessage, name, a.Type)
		}
		if a.Value == "" {
			return fmt.Errorf("%w: attribute %s: empty value", ErrInvalidMessage, name)
		}
	}
	return nil
}

// validAttrType accepts SNS's data types, with an optional custom suffix
// ("Number.float").
func validAttrType(t string) bool {
	if t == "String.Array" {
		return true
	}
	base, _, _ := strings.Cut(t, ".")
	for _, s := range attrTypeStr {
		if base == s {
			return true
		}
	}
	return false
}

// Close stops taking messages, delivers what is queued (with retries)
// until ctx ends or the topic's DrainTimeout has passed, then dead-letters
// what is left undelivered and returns once every goroutine of the topic
// has ended. The error tells when the delivery was cut short. Closing twice
// is harmless.
func (t *Topic) Close(ctx context.Context) error {
	if t.drain > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.drain)
		defer cancel()
	}
	t.mu.Lock()
	already := t.closed
	t.closed = true
	subs := t.subs
	t.mu.Unlock()
	if already {
		t.wg.Wait()
		return nil
	}
	pending := 0
	for _, s := range subs {
		pending += s.q.close()
		if s.spill != nil {
			pending += s.spill.close()
		}
	}
	if pending > 0 {
		bound := ""
		if d, ok := ctx.Deadline(); ok {
			bound = fmt.Sprintf(" (for at most %v)", time.Until(d).Round(100*time.Millisecond))
		}
		what := fmt.Sprintf("the %d messages", pending)
		if pending == 1 {
			what = "the message"
		}
		t.log.Info(fmt.Sprintf("sns topic %s: delivering %s still queued (or sending them to dead letters) before it closes%s",
			t.name, what, bound))
	}
	done := make(chan struct{})
	go func() { // owned by Close, which waits for it below
		t.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		t.cancel()
		<-done
		err = fmt.Errorf("topic %s: closed before every message was delivered (the rest went to dead letters): %w", t.name, ctx.Err())
	}
	t.cancel()
	t.http.CloseIdleConnections()
	for _, s := range subs {
		s.log.Flush(fmt.Sprintf("warnings of topic %s, subscription %s,", t.name, s.name))
	}
	if t.ownSet {
		metrics.UnregisterSet(t.set, true)
	}
	return err
}

// Flush waits until every message published before it has been delivered
// or dead-lettered, or until ctx ends.
func (t *Topic) Flush(ctx context.Context) error {
	t.mu.RLock()
	subs := t.subs
	t.mu.RUnlock()
	for _, s := range subs {
		if err := s.q.wait(ctx); err != nil {
			return fmt.Errorf("topic %s: subscription %s: flush: %w", t.name, s.name, err)
		}
		if s.spill == nil {
			continue
		}
		if err := s.spill.wait(ctx); err != nil {
			return fmt.Errorf("topic %s: subscription %s: flush (dead letters of a full queue): %w", t.name, s.name, err)
		}
	}
	return nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
