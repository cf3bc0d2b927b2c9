package sns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/connectors/sns/filter"
	"github.com/sluicehq/sluice/internal/ratelog"
)

// SubscriptionConfig configures a subscription to a topic.
type SubscriptionConfig struct {
	// Name names the subscription in errors, metrics and dead letters
	// (letters, digits, '-', '_', '.'; unique in its topic); "" = the
	// protocol followed by the subscription's number.
	Name string
	// Protocol is http, https, file, stdout, store or sqs.
	Protocol string
	// Endpoint is the URL (http, https), the file's path or file:// URL
	// (file), the stream's name (store), the queue's name, URL or ARN
	// (sqs); ignored for stdout.
	Endpoint string
	// FilterPolicy is SNS's filter policy (JSON); "" lets every message in.
	FilterPolicy string
	// FilterPolicyScope is "MessageAttributes" (the default) or
	// "MessageBody".
	FilterPolicyScope string
	// RawMessageDelivery delivers the body as is instead of the envelope
	// (http, https, file, store, sqs — where the attributes become message
	// attributes; stdout is always readable text).
	RawMessageDelivery bool
	// DeliveryPolicy is SNS's HTTP/S delivery policy (JSON), applied to
	// every protocol: healthyRetryPolicy (numRetries, minDelayTarget,
	// maxDelayTarget, numNoDelayRetries, numMinDelayRetries,
	// numMaxDelayRetries, backoffFunction linear|arithmetic|geometric|
	// exponential), throttlePolicy.maxReceivesPerSecond and
	// requestPolicy.headerContentType. "" = SNS's default: 3 retries,
	// 20 s apart.
	DeliveryPolicy string
	// DeadLetter receives what cannot be delivered: "file:///abs/path.jsonl",
	// "store:<stream>" or "sqs:<queue>" (a standard queue's name, URL or
	// ARN, of the store at StoreEndpoint unless a URL); "" = a warning on
	// standard error.
	DeadLetter string
	// StoreEndpoint is the store's URL for protocols store and sqs (a
	// queue named by its name or ARN) and store and sqs dead letters; "" =
	// the process's embedded store.
	StoreEndpoint string
	// Out receives protocol stdout's text; nil = os.Stdout.
	Out io.Writer
	// AttemptTimeout bounds one delivery attempt; 0 = 15 s, as SNS.
	AttemptTimeout time.Duration
	// DelayUnit is the unit of the delivery policy's delays; 0 = a second,
	// as SNS. A millisecond makes a policy fast, for tests and local setups.
	DelayUnit time.Duration
	// QueueBytes bounds the bytes of the subscription's messages queued or
	// in delivery. Publish never waits for a subscription: a message that
	// does not fit goes to the dead-letter target with the reason
	// "subscription queue full" (through a second queue, of the same bound
	// but at least DefaultQueueBytes; what does not fit there either is
	// counted and logged), or without a target is counted and logged.
	// 0 = DefaultQueueBytes.
	QueueBytes int
}

// Subscription is a topic's subscription: its queue and its delivery
// goroutine belong to the topic, which stops them on Close.
type Subscription struct {
	name     string
	arn      string
	topic    *Topic
	protocol string
	raw      bool
	policy   *filter.Policy
	retry    retryPolicy
	delays   []time.Duration
	timeout  time.Duration
	out      output
	dead     deadLetter // nil: a warning on standard error
	q        *queue
	spill    *queue // overflow of q on its way to dead; nil without dead
	m        subMetrics
	next     time.Time // throttlePolicy: the earliest next attempt (the goroutine's own)
	health   health    // the delivery goroutine's own
	log      *ratelog.Limiter

	deadMu     sync.Mutex // serializes dead-letter writes (two goroutines)
	deadBroken bool       // a write failed after Close gave up: log the rest
}

// health follows a subscription's failure episodes (from a failed attempt
// to the next success) to log their start and end, naming the
// subscription: at most one episode start a healthEvery, the end of every
// episode whose start was logged.
type health struct {
	failed    int  // failed attempts in the current episode; 0: healthy
	shown     bool // the current episode's start was logged
	lastShown time.Time
	hidden    int // episodes not logged since the last logged one
}

// healthEvery is the least time between two logged episode starts.
const healthEvery = 10 * time.Second

// output delivers one notification; it is used by the subscription's
// goroutine only. A *permanentError means retrying is useless.
type output interface {
	deliver(ctx context.Context, s *Subscription, n *notification) error
	close() error
}

// batchOutput is an output that can deliver several notifications in one
// attempt (a file: one write and one fsync for all of them; a queue:
// SendMessageBatch requests). It returns those it did not deliver, in
// order, which then get the attempts of the delivery policy one by one.
type batchOutput interface {
	deliverAll(ctx context.Context, s *Subscription, ns []*notification) (rest []*notification)
}

// permanentError is a delivery failure that retries cannot mend.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

type subMetrics struct {
	filteredOut, deliveries, retries, failures, deadLetters, queueFull *metrics.Counter
	seconds                                                            *metrics.Histogram
}

var subName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)

// Name returns the subscription's name.
func (s *Subscription) Name() string { return s.name }

// ARN returns the subscription's ARN: the topic's, a colon and a UUID.
func (s *Subscription) ARN() string { return s.arn }

// Subscribe adds a subscription to the topic; it receives the messages
// published from now on. Every option is checked here: an error names the
// subscription and the option.
func (t *Topic) Subscribe(c SubscriptionConfig) (*Subscription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	proto := strings.ToLower(strings.TrimSpace(c.Protocol))
	name := c.Name
	if name == "" {
		name = fmt.Sprintf("%s-%d", proto, len(t.subs)+1)
	}
	errorf := func(option, format string, args ...any) error {
		return fmt.Errorf("topic %s: subscription %s: option %s: %s", t.name, name, option, fmt.Sprintf(format, args...))
	}
	if !subName.MatchString(name) {
		return nil, errorf("Name", "%q: want 1 to 256 letters, digits, '-', '_' or '.'", name)
	}
	for _, o := range t.subs {
		if o.name == name {
			return nil, errorf("Name", "the topic already has a subscription %s", name)
		}
	}
	s := &Subscription{
		name:     name,
		arn:      t.arn + ":" + newUUID(),
		topic:    t,
		protocol: proto,
		raw:      c.RawMessageDelivery,
		timeout:  c.AttemptTimeout,
	}
	if s.timeout == 0 {
		s.timeout = DefaultAttemptTimeout
	}
	if s.timeout < 0 {
		return nil, errorf("AttemptTimeout", "%v is negative", c.AttemptTimeout)
	}
	unit := c.DelayUnit
	if unit == 0 {
		unit = time.Second
	}
	if unit < 0 {
		return nil, errorf("DelayUnit", "%v is negative", c.DelayUnit)
	}
	qb := c.QueueBytes
	if qb == 0 {
		qb = DefaultQueueBytes
	}
	if qb < 0 {
		return nil, errorf("QueueBytes", "%d is negative", c.QueueBytes)
	}

	var scope filter.Scope
	switch c.FilterPolicyScope {
	case "", "MessageAttributes":
		scope = filter.MessageAttributes
	case "MessageBody":
		scope = filter.MessageBody
	default:
		return nil, errorf("FilterPolicyScope", "%q: want MessageAttributes or MessageBody", c.FilterPolicyScope)
	}
	if strings.TrimSpace(c.FilterPolicy) != "" {
		p, err := filter.Compile(c.FilterPolicy, scope)
		if err != nil {
			return nil, errorf("FilterPolicy", "%v", err)
		}
		s.policy = p
	}
	var err error
	if s.retry, err = parseDeliveryPolicy(c.DeliveryPolicy); err != nil {
		return nil, errorf("DeliveryPolicy", "%v", err)
	}
	s.delays = s.retry.schedule(unit)

	if t.fifo && proto != "sqs" {
		return nil, errorf("Protocol", "%q: a FIFO topic delivers to queues only (protocol sqs), as SNS", c.Protocol)
	}
	switch proto {
	case "sqs":
		var q *sqsOutput
		if q, err = newSQSOutput(c.Endpoint, c.StoreEndpoint); err == nil && q.fifo && !t.fifo {
			return nil, errorf("Endpoint", "the FIFO queue %s cannot subscribe to a standard topic, as in SNS: "+
				"subscribe a standard queue, or publish to a FIFO topic (a name ending in .fifo)", q.name)
		}
		s.out = q
	case "http", "https":
		s.out, err = newHTTPOutput(proto, c.Endpoint, s.retry.ContentType)
	case "file":
		s.out, err = newFileOutput(c.Endpoint)
	case "stdout":
		s.out = newStdoutOutput(c.Out)
	case "store":
		s.out, err = newStoreOutput(c.Endpoint, c.StoreEndpoint)
	default:
		return nil, errorf("Protocol", "%q: want http, https, file, stdout, store or sqs", c.Protocol)
	}
	if err != nil {
		return nil, errorf("Endpoint", "%v", err)
	}
	if c.DeadLetter != "" {
		if s.dead, err = newDeadLetter(c.DeadLetter, c.StoreEndpoint); err != nil {
			_ = s.out.close()
			return nil, errorf("DeadLetter", "%v", err)
		}
	}

	labels := fmt.Sprintf(`{topic=%q,subscription=%q}`, t.name, name)
	s.m = subMetrics{
		filteredOut: t.set.GetOrCreateCounter("sluice_sns_filtered_out_total" + labels),
		deliveries:  t.set.GetOrCreateCounter("sluice_sns_deliveries_total" + labels),
		retries:     t.set.GetOrCreateCounter("sluice_sns_delivery_retries_total" + labels),
		failures:    t.set.GetOrCreateCounter("sluice_sns_delivery_failures_total" + labels),
		deadLetters: t.set.GetOrCreateCounter("sluice_sns_dead_letters_total" + labels),
		queueFull:   t.set.GetOrCreateCounter("sluice_sns_queue_full_total" + labels),
		seconds:     t.set.GetOrCreateHistogram("sluice_sns_delivery_seconds" + labels),
	}
	s.q = newQueue(qb)
	s.log = ratelog.New(func(msg string) { t.log.Warn(msg) }, time.Second)
	subs := make([]*Subscription, len(t.subs), len(t.subs)+1)
	copy(subs, t.subs)
	t.subs = append(subs, s)
	var spillDone chan struct{}
	if s.dead != nil {
		// Dead letters are written one fsync'd line at a time, slower than
		// a burst is published: their queue holds at least the default.
		s.spill = newQueue(max(qb, DefaultQueueBytes))
		spillDone = make(chan struct{})
		t.wg.Add(1)
		go s.runSpill(spillDone)
	}
	t.wg.Add(1)
	go s.run(t.ctx, spillDone)
	return s, nil
}

// reasonQueueFull is the dead-letter reason of a message that found the
// subscription's queue full.
const reasonQueueFull = "subscription queue full"

// overflow takes a notification that did not fit in the queue: it goes to
// the dead-letter target's queue, or is counted and logged. It never
// blocks.
func (s *Subscription) overflow(n *notification) {
	s.m.queueFull.Inc()
	if s.spill != nil {
		err := s.spill.push(n)
		if err == nil {
			s.log.Printf("sns topic %s: subscription %s: the queue is full (%d bytes; its endpoint is not keeping up): message %s goes to the dead-letter target",
				s.topic.name, s.name, s.q.limit, n.msg.ID)
			return
		}
		s.m.deadLetters.Inc()
		s.log.Printf("sns topic %s: subscription %s: message %s dropped: the queue is full (%d bytes; its endpoint is not keeping up) and so are its dead letters waiting to be written (%v)",
			s.topic.name, s.name, n.msg.ID, s.q.limit, err)
		return
	}
	s.m.deadLetters.Inc()
	s.log.Printf("sns topic %s: subscription %s: message %s not delivered: the queue is full (%d bytes; its endpoint is not keeping up), and the subscription has no dead-letter target",
		s.topic.name, s.name, n.msg.ID, s.q.limit)
}

// spillChunk is how many dead letters of a full queue are written at once
// (one fsync for a file).
const spillChunk = 256

// runSpill is the goroutine that writes the queue's overflow to the
// dead-letter target, until the spill queue is closed and empty.
func (s *Subscription) runSpill(done chan<- struct{}) {
	defer s.topic.wg.Done()
	defer close(done)
	reason := fmt.Sprintf("%s (%d bytes queued or in delivery)", reasonQueueFull, s.q.limit)
	for {
		batch, closed := s.spill.take()
		for rest := batch; len(rest) > 0; {
			chunk := rest[:min(len(rest), spillChunk)]
			rest = rest[len(chunk):]
			s.deadLetterAll(chunk, reason)
			for _, n := range chunk {
				s.spill.done(n)
			}
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) == 0 {
			<-s.spill.ready
		}
	}
}

// run is the subscription's goroutine: it delivers the queue in order
// until the queue is closed and empty. When ctx ends (Close gave up) it
// dead-letters what is left. It closes the outputs once the spill
// goroutine (spillDone; nil without one) has ended too.
func (s *Subscription) run(ctx context.Context, spillDone <-chan struct{}) {
	defer s.topic.wg.Done()
	defer func() {
		if spillDone != nil {
			<-spillDone
		}
		s.closeOutputs()
	}()
	for {
		batch, closed := s.q.take()
		batch = s.deliverAtOnce(ctx, batch)
		for i, n := range batch {
			if ctx.Err() != nil {
				s.abandon(batch[i:])
				break
			}
			s.deliver(ctx, n)
			s.q.done(n)
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-s.q.ready:
		case <-ctx.Done():
			// Close gave up; it closed the queue before, so the next turn
			// dead-letters what is left and ends.
		}
	}
}

// deliverAtOnce delivers ns in one attempt when the output can and no
// throttle spaces deliveries out, and returns what is left to deliver one
// at a time: what that attempt did not deliver (each then gets the
// attempts of the delivery policy).
func (s *Subscription) deliverAtOnce(ctx context.Context, ns []*notification) []*notification {
	bo, ok := s.out.(batchOutput)
	if !ok || len(ns) < 2 || s.retry.MaxReceivesPerSecond > 0 || ctx.Err() != nil {
		return ns
	}
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	rest := bo.deliverAll(actx, s, ns)
	cancel()
	if len(rest) == len(ns) {
		return ns
	}
	left := make(map[*notification]bool, len(rest))
	for _, n := range rest {
		left[n] = true
	}
	for _, n := range ns {
		if left[n] {
			continue
		}
		s.m.deliveries.Inc()
		s.m.seconds.UpdateDuration(n.published)
		s.q.done(n)
	}
	s.recovered()
	return rest
}

// abandon dead-letters notifications that Close gave up on.
func (s *Subscription) abandon(ns []*notification) {
	for _, n := range ns {
		s.deadLetter(n, "the topic was closed before the message could be delivered", 0)
		s.q.done(n)
	}
}

// deliver makes the attempts the delivery policy allows, then
// dead-letters n if none succeeded.
func (s *Subscription) deliver(ctx context.Context, n *notification) {
	var (
		err      error
		attempts int
	)
	for attempt := 0; attempt <= len(s.delays); attempt++ {
		if attempt > 0 {
			if !sleep(ctx, s.delays[attempt-1]) {
				err = fmt.Errorf("the topic was closed while retrying (last error: %w)", err)
				break
			}
			s.m.retries.Inc()
		}
		if s.retry.MaxReceivesPerSecond > 0 {
			if !sleep(ctx, time.Until(s.next)) {
				err = fmt.Errorf("the topic was closed while retrying (last error: %w)", err)
				break
			}
			s.next = time.Now().Add(time.Second / time.Duration(s.retry.MaxReceivesPerSecond))
		}
		attempts++
		actx, cancel := context.WithTimeout(ctx, s.timeout)
		err = s.out.deliver(actx, s, n)
		if err != nil && actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %v: %w", s.timeout, err)
		}
		cancel()
		if err == nil {
			s.m.deliveries.Inc()
			s.m.seconds.UpdateDuration(n.published)
			s.recovered()
			return
		}
		s.m.failures.Inc()
		if ctx.Err() != nil {
			err = fmt.Errorf("the topic was closed during delivery: %w", err)
			break
		}
		s.failed(err)
		var perm *permanentError
		if errors.As(err, &perm) {
			break
		}
	}
	s.deadLetter(n, err.Error(), attempts)
}

// sleep waits d, or returns false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// failed notes a failed attempt: the first of an episode is logged (at
// most one episode start every healthEvery).
func (s *Subscription) failed(err error) {
	h := &s.health
	h.failed++
	if h.failed > 1 {
		return
	}
	now := time.Now()
	if !h.lastShown.IsZero() && now.Sub(h.lastShown) < healthEvery {
		h.hidden++
		return
	}
	more := ""
	if h.hidden > 0 {
		more = fmt.Sprintf(" (%d more failure episodes since the last report)", h.hidden)
	}
	h.shown, h.lastShown, h.hidden = true, now, 0
	s.topic.log.Warn(fmt.Sprintf("sns topic %s: subscription %s: delivery failing: %v%s",
		s.topic.name, s.name, err, more))
}

// recovered notes a successful delivery: it ends a failure episode, and
// logs its end when its start was logged.
func (s *Subscription) recovered() {
	h := &s.health
	if h.failed > 0 && h.shown {
		attempts := "attempts"
		if h.failed == 1 {
			attempts = "attempt"
		}
		s.topic.log.Info(fmt.Sprintf("sns topic %s: subscription %s: delivering again, after %d failed %s",
			s.topic.name, s.name, h.failed, attempts))
	}
	h.failed, h.shown = 0, false
}

// deadLetter sends n to the dead-letter target, or reports it on standard
// error when there is none or it fails. The delivery and spill goroutines
// both call it.
func (s *Subscription) deadLetter(n *notification, reason string, attempts int) {
	s.m.deadLetters.Inc()
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	if s.dead != nil && s.deadBroken {
		s.log.Printf("sns topic %s: subscription %s: message %s not delivered (%s); its dead-letter target failed after the topic was closed",
			s.topic.name, s.name, n.msg.ID, reason)
		return
	}
	if s.dead != nil {
		ctx, cancel := context.WithTimeout(context.Background(), abortWrite)
		err := s.dead.write(ctx, s.deadRecord(n, reason, attempts))
		cancel()
		if err == nil {
			return
		}
		if s.topic.ctx.Err() != nil {
			s.deadBroken = true // Close gave up: do not wait on it for every message left
		}
		s.log.Printf("sns topic %s: subscription %s: cannot write the dead letter of message %s (%s): %v",
			s.topic.name, s.name, n.msg.ID, reason, err)
		return
	}
	s.log.Printf("sns topic %s: subscription %s: message %s not delivered after %d attempts, and the subscription has no dead-letter target: %s",
		s.topic.name, s.name, n.msg.ID, attempts, reason)
}

// deadLetterAll sends ns (never delivered: 0 attempts) to the dead-letter
// target at once; those it could not write are handled one by one, as by
// deadLetter.
func (s *Subscription) deadLetterAll(ns []*notification, reason string) {
	s.deadMu.Lock()
	recs := make([][]byte, len(ns))
	for i, n := range ns {
		recs[i] = s.deadRecord(n, reason, 0)
	}
	written := 0
	if !s.deadBroken {
		ctx, cancel := context.WithTimeout(context.Background(), abortWrite)
		written, _ = s.dead.writeAll(ctx, recs) // the rest: one by one below, which logs the error
		cancel()
	}
	s.deadMu.Unlock()
	s.m.deadLetters.Add(written)
	for _, n := range ns[written:] {
		s.deadLetter(n, reason, 0)
	}
}

// deadRecord is the dead letter of n: the subscription, the topic, the
// reason, the attempts made and the notification's envelope.
func (s *Subscription) deadRecord(n *notification, reason string, attempts int) []byte {
	return marshal(struct {
		Subscription    string  `json:"subscription"`
		SubscriptionArn string  `json:"subscriptionArn"`
		Topic           string  `json:"topic"`
		TopicArn        string  `json:"topicArn"`
		Reason          string  `json:"reason"`
		Attempts        int     `json:"attempts"`
		Message         rawJSON `json:"message"`
	}{s.name, s.arn, s.topic.name, s.topic.arn, reason, attempts, rawJSON(n.envelope)})
}

// rawJSON is JSON kept as is.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

func (s *Subscription) closeOutputs() {
	if err := s.out.close(); err != nil {
		s.log.Printf("sns topic %s: subscription %s: %v", s.topic.name, s.name, err)
	}
	if s.dead != nil {
		if err := s.dead.close(); err != nil {
			s.log.Printf("sns topic %s: subscription %s: dead letters: %v", s.topic.name, s.name, err)
		}
	}
}
