package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Attribute names of dead-letter queues.
const (
	AttrRedrivePolicy      = "RedrivePolicy"
	AttrRedriveAllowPolicy = "RedriveAllowPolicy"
)

// MaxMaxReceiveCount bounds a RedrivePolicy's maxReceiveCount, as SQS.
const MaxMaxReceiveCount = 1000

// redrive is a parsed RedrivePolicy: messages received more than
// maxReceive times move to the queue named target.
type redrive struct {
	target     string
	maxReceive uint32
}

// queueNameOfARN is the queue name an SQS ARN ends with.
func queueNameOfARN(arn string) (string, bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[5] == "" {
		return "", false
	}
	return parts[5], true
}

// parseRedrive parses a RedrivePolicy ("" is none). maxReceiveCount may
// be a number or a string, as SQS takes both.
func parseRedrive(s string) (redrive, error) {
	if s == "" {
		return redrive{}, nil
	}
	bad := func(reason string) error {
		return &AttributeError{Name: AttrRedrivePolicy, Value: s, Reason: reason}
	}
	var p struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return redrive{}, bad("Redrive policy is not a valid JSON map.")
	}
	name, ok := queueNameOfARN(p.DeadLetterTargetArn)
	if !ok {
		return redrive{}, bad("Dead-letter target ARN is not valid: " + p.DeadLetterTargetArn)
	}
	raw := strings.Trim(string(p.MaxReceiveCount), `"`)
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > MaxMaxReceiveCount {
		return redrive{}, bad(fmt.Sprintf("Value %s for parameter MaxReceiveCount is invalid. Reason: must be an integer from 1 to %d.", raw, MaxMaxReceiveCount))
	}
	return redrive{target: name, maxReceive: uint32(n)}, nil
}

// allowPolicy is a parsed RedriveAllowPolicy.
type allowPolicy struct {
	permission string          // allowAll (the default), denyAll or byQueue
	sources    map[string]bool // byQueue: the names of the source queues
}

func parseAllow(s string) (allowPolicy, error) {
	if s == "" {
		return allowPolicy{permission: "allowAll"}, nil
	}
	bad := func(reason string) error {
		return &AttributeError{Name: AttrRedriveAllowPolicy, Value: s, Reason: reason}
	}
	var p struct {
		RedrivePermission string   `json:"redrivePermission"`
		SourceQueueArns   []string `json:"sourceQueueArns"`
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return allowPolicy{}, bad("Redrive allow policy is not a valid JSON map.")
	}
	a := allowPolicy{permission: p.RedrivePermission}
	switch p.RedrivePermission {
	case "allowAll", "denyAll":
		if len(p.SourceQueueArns) > 0 {
			return a, bad("sourceQueueArns is for redrivePermission byQueue only.")
		}
	case "byQueue":
		if len(p.SourceQueueArns) < 1 || len(p.SourceQueueArns) > 10 {
			return a, bad("byQueue needs 1 to 10 sourceQueueArns.")
		}
		a.sources = map[string]bool{}
		for _, arn := range p.SourceQueueArns {
			name, ok := queueNameOfARN(arn)
			if !ok {
				return a, bad("Source queue ARN is not valid: " + arn)
			}
			a.sources[name] = true
		}
	default:
		return a, bad("redrivePermission must be allowAll, denyAll or byQueue.")
	}
	return a, nil
}

func (a allowPolicy) allows(source string) bool {
	return a.permission == "allowAll" || a.permission == "byQueue" && a.sources[source]
}

// checkRedrive checks a RedrivePolicy for the queue named source (of FIFO
// type fifo) against its target: it exists, is not the source, is of the
// same type, and its RedriveAllowPolicy lets source use it. The caller
// holds no queue's lock.
func (s *Store) checkRedrive(source string, fifo bool, policy string) error {
	rd, err := parseRedrive(policy)
	if err != nil || rd.target == "" {
		return err
	}
	bad := func(reason string) error {
		return &AttributeError{Name: AttrRedrivePolicy, Value: policy, Reason: reason}
	}
	if rd.target == source {
		return bad("A queue cannot be its own dead-letter queue.")
	}
	t, err := s.Queue(rd.target)
	if err != nil {
		return bad("Dead letter target does not exist.")
	}
	ta := t.Settings()
	if ta.FifoQueue != fifo {
		return bad("The dead-letter queue of a FIFO queue must be a FIFO queue, and of a standard queue a standard queue.")
	}
	allow, _ := parseAllow(ta.RedriveAllowPolicy)
	if !allow.allows(source) {
		return bad("The dead-letter queue's RedriveAllowPolicy does not allow this queue.")
	}
	return nil
}

// DeadLetterSources returns the names of the queues whose RedrivePolicy
// names the queue dlq, sorted.
func (s *Store) DeadLetterSources(dlq string) []string {
	var out []string
	for _, name := range s.List("") {
		q, err := s.Queue(name)
		if err != nil {
			continue
		}
		if rd, _ := parseRedrive(q.Settings().RedrivePolicy); rd.target == dlq {
			out = append(out, name)
		}
	}
	return out
}

// moveToDeadLetter moves messages taken out of q by a receive (marked
// moving) to q's dead-letter queue: first sent there (durably), then
// deleted from q. A message whose move fails is put back, to be received
// again. The caller holds no lock.
func (q *Queue) moveToDeadLetter(ctx context.Context, rd redrive, moving []*msg) {
	n, _ := q.moveOut(ctx, moving, func(*msg) string { return rd.target }) // a failed move leaves them in q
	q.mu.Lock()
	q.counts.deadLettered += uint64(n)
	q.mu.Unlock()
}

// adopt puts messages moved from the queue named source into q, keeping
// their ids, bodies, attributes and send times, with their receive counts
// reset; FIFO messages keep their group and take new sequence numbers.
func (q *Queue) adopt(ctx context.Context, ms []*msg, source string) error {
	q.mu.Lock()
	if err := q.usable(); err != nil {
		q.mu.Unlock()
		return err
	}
	now := q.now()
	buf := q.scratch[:0]
	for _, old := range ms {
		if q.msgs[old.id] != nil {
			continue // moved before, by a move that did not finish
		}
		m := &msg{id: old.id, seq: q.nextSeq, sentAt: old.sentAt, visibleAt: now, body: old.body, attrs: old.attrs,
			group: old.group, dedup: old.dedup, src: source, trace: old.trace}
		if q.fifo() {
			m.sentAt = now // a FIFO dead-letter queue counts retention from the move, as SQS
			q.order = append(q.order, m)
		}
		q.nextSeq++
		q.msgs[m.id] = m
		q.live += m.bytes()
		q.push(m)
		buf = appendPut(buf, m)
	}
	b := q.enqueue(buf, true)
	q.mu.Unlock()
	return q.commit(b)
}
