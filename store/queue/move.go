package queue

import (
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"time"
)

// Move task statuses, as SQS's.
const (
	MoveRunning   = "RUNNING"
	MoveCompleted = "COMPLETED"
	MoveCancelled = "CANCELLED"
	MoveFailed    = "FAILED"
)

// Errors of move tasks.
var (
	ErrNotDeadLetter = errors.New("queue: the source queue must be configured as a dead-letter queue")
	ErrMoveRunning   = errors.New("queue: a message move task is already running on the source queue")
	ErrNoMoveTask    = errors.New("queue: no such running message move task")
)

// MoveTask is a message move task (StartMessageMoveTask): it moves the
// messages of a dead-letter queue back to the queues they came from, or
// to Destination. The newest task of a queue is kept in its queue.json
// (when it starts and ends, its progress after each batch of a task with
// a rate and at most once a second otherwise, and when the store
// closes): a task running when the store stopped resumes when it opens
// again, counting on from the progress last kept.
type MoveTask struct {
	Handle      string
	Source      string // queue names
	Destination string // "" for each message's source queue
	Status      string
	Moved       int64
	ToMove      int64
	Started     time.Time
	Failure     string
	PerSecond   int // MaxNumberOfMessagesPerSecond; 0 for no limit
	cancel      context.CancelFunc
}

// moveState is a move task as queue.json keeps it.
type moveState struct {
	Handle      string `json:"handle"`
	Destination string `json:"destination,omitempty"`
	Status      string `json:"status"`
	Moved       int64  `json:"moved"`
	ToMove      int64  `json:"toMove"`
	Started     int64  `json:"started"` // Unix ms
	PerSecond   int    `json:"perSecond,omitempty"`
	Failure     string `json:"failure,omitempty"`
}

// saveMove keeps t in the queue.json of src. A queue deleted or closed
// keeps nothing. It copies t under src.mu, so that concurrent saves
// write in the order of the states they copied (lock order: a queue's
// mu, then moves.mu).
func (s *Store) saveMove(src *Queue, t *MoveTask) error {
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.usable() != nil {
		return nil
	}
	s.moves.mu.Lock()
	st := &moveState{Handle: t.Handle, Destination: t.Destination, Status: t.Status, Moved: t.Moved, ToMove: t.ToMove,
		Started: t.Started.UnixMilli(), PerSecond: t.PerSecond, Failure: t.Failure}
	s.moves.mu.Unlock()
	m := src.meta
	m.Move = st
	if err := src.saveMeta(m); err != nil {
		return err
	}
	src.meta = m
	return nil
}

// resumeMoves lists the move tasks kept in the queues' queue.json and
// starts again those that were running. Open calls it.
func (s *Store) resumeMoves() {
	var found []*MoveTask
	for _, q := range s.queues {
		st := q.meta.Move
		if st == nil {
			continue
		}
		found = append(found, &MoveTask{Handle: st.Handle, Source: q.meta.Name, Destination: st.Destination, Status: st.Status,
			Moved: st.Moved, ToMove: st.ToMove, Started: time.UnixMilli(st.Started), Failure: st.Failure, PerSecond: st.PerSecond})
	}
	slices.SortFunc(found, func(a, b *MoveTask) int { return a.Started.Compare(b.Started) })
	for _, t := range found {
		ctx, cancel := context.WithCancel(context.Background())
		t.cancel = cancel
		s.moves.tasks = append(s.moves.tasks, t)
		if t.Status == MoveRunning {
			s.goMove(ctx, s.queues[t.Source], t)
		}
	}
}

// goMove runs task t of queue src in a goroutine the Store waits for,
// until ctx (cancelled by t.cancel) ends or the store closes.
func (s *Store) goMove(ctx context.Context, src *Queue, t *MoveTask) {
	s.moves.wg.Add(1)
	go func() {
		defer s.moves.wg.Done()
		defer t.cancel()
		s.runMove(ctx, src, t)
	}()
}

// moves are a Store's move tasks, newest last.
type moves struct {
	mu    sync.Mutex
	tasks []*MoveTask
	wg    sync.WaitGroup
}

// StartMove starts moving the messages of the dead-letter queue source to
// destination ("" for each message's source queue), at most perSecond
// messages a second (0: no limit). It returns the task's handle.
func (s *Store) StartMove(source, destination string, perSecond int) (string, error) {
	src, err := s.Queue(source)
	if err != nil {
		return "", err
	}
	if len(s.DeadLetterSources(source)) == 0 {
		return "", ErrNotDeadLetter
	}
	if destination != "" {
		if _, err := s.Queue(destination); err != nil {
			return "", err
		}
	}
	if perSecond < 0 || perSecond > 500 {
		return "", &ValueError{Name: "MaxNumberOfMessagesPerSecond", Reason: "Must be between 1 and 500."}
	}
	a, err := src.Attributes(AttrApproximateNumberOfMessages)
	if err != nil {
		return "", err
	}
	var toMove int64
	for _, c := range a[AttrApproximateNumberOfMessages] {
		toMove = toMove*10 + int64(c-'0')
	}
	var h [16]byte
	_, _ = rand.Read(h[:])
	ctx, cancel := context.WithCancel(context.Background())
	t := &MoveTask{Handle: hex.EncodeToString(h[:]), Source: source, Destination: destination, Status: MoveRunning,
		ToMove: toMove, Started: s.opts.Now(), PerSecond: perSecond, cancel: cancel}
	s.moves.mu.Lock()
	for _, o := range s.moves.tasks {
		if o.Source == source && o.Status == MoveRunning {
			s.moves.mu.Unlock()
			cancel()
			return "", ErrMoveRunning
		}
	}
	s.moves.tasks = append(s.moves.tasks, t)
	s.moves.mu.Unlock()
	if err := s.saveMove(src, t); err != nil {
		s.moves.mu.Lock()
		s.moves.tasks = slices.DeleteFunc(s.moves.tasks, func(o *MoveTask) bool { return o == t })
		s.moves.mu.Unlock()
		cancel()
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed { // kept RUNNING: it resumes at the next Open
		return "", ErrClosed
	}
	s.goMove(ctx, src, t)
	return t.Handle, nil
}

// runMove moves messages for t until it is done, fails or is cancelled;
// when the store closes, t stays RUNNING (kept so, with its progress, to
// resume at the next Open).
func (s *Store) runMove(ctx context.Context, src *Queue, t *MoveTask) {
	set := func(status, failure string) {
		s.moves.mu.Lock()
		if t.Status == MoveRunning {
			t.Status, t.Failure = status, failure
		}
		s.moves.mu.Unlock()
		_ = s.saveMove(src, t)
	}
	saved := time.Now()
	for {
		s.moves.mu.Lock()
		done := t.Moved >= t.ToMove
		s.moves.mu.Unlock()
		if done {
			set(MoveCompleted, "")
			return
		}
		select {
		case <-ctx.Done():
			set(MoveCancelled, "")
			return
		case <-s.stop:
			_ = s.saveMove(src, t) // the progress, to resume from
			return
		default:
		}
		ms := src.pickVisible(10)
		if len(ms) == 0 {
			set(MoveCompleted, "")
			return
		}
		n, err := src.moveOut(ctx, ms, func(m *msg) string {
			if t.Destination != "" {
				return t.Destination
			}
			return m.src
		})
		s.moves.mu.Lock()
		t.Moved += int64(n)
		s.moves.mu.Unlock()
		if err != nil {
			set(MoveFailed, err.Error())
			return
		}
		if t.PerSecond > 0 || time.Since(saved) >= time.Second { // before a pause, or once a second
			_ = s.saveMove(src, t)
			saved = time.Now()
		}
		if t.PerSecond > 0 {
			select {
			case <-time.After(time.Duration(n) * time.Second / time.Duration(t.PerSecond)):
			case <-ctx.Done():
			case <-s.stop:
			}
		}
	}
}

// MoveTasks returns copies of the move tasks of the queue source, newest first.
func (s *Store) MoveTasks(source string) []MoveTask {
	s.moves.mu.Lock()
	defer s.moves.mu.Unlock()
	var out []MoveTask
	for i := len(s.moves.tasks) - 1; i >= 0; i-- {
		if t := s.moves.tasks[i]; t.Source == source {
			c := *t
			c.cancel = nil
			out = append(out, c)
		}
	}
	return out
}

// CancelMove cancels a running move task and returns how many messages it moved.
func (s *Store) CancelMove(handle string) (int64, error) {
	s.moves.mu.Lock()
	var found *MoveTask
	for _, t := range s.moves.tasks {
		if t.Handle == handle && t.Status == MoveRunning {
			t.Status = MoveCancelled
			t.cancel()
			found = t
			break
		}
	}
	s.moves.mu.Unlock()
	if found == nil {
		return 0, ErrNoMoveTask
	}
	if src, err := s.Queue(found.Source); err == nil {
		_ = s.saveMove(src, found)
	}
	s.moves.mu.Lock()
	defer s.moves.mu.Unlock()
	return found.Moved, nil
}

// pickVisible marks up to n visible messages as moving, oldest visible
// first, without receiving them.
func (q *Queue) pickVisible(n int) []*msg {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.usable() != nil {
		return nil
	}
	now := q.now()
	var out []*msg
	for len(out) < n && len(q.due) > 0 {
		e := q.due[0]
		if e.m.gone || e.gen != e.m.gen || e.m.moving {
			heap.Pop(&q.due)
			continue
		}
		if e.at > now {
			break
		}
		heap.Pop(&q.due)
		e.m.moving = true
		e.m.gen++
		out = append(out, e.m)
	}
	return out
}

// moveOut moves messages marked moving to the queues targetOf names: sent
// there first (durably), then deleted from q. It returns how many moved;
// the ones it could not move are put back.
func (q *Queue) moveOut(ctx context.Context, ms []*msg, targetOf func(*msg) string) (int, error) {
	byTarget := map[string][]*msg{}
	for _, m := range ms {
		byTarget[targetOf(m)] = append(byTarget[targetOf(m)], m)
	}
	moved := map[*msg]bool{}
	var errs []error
	for name, group := range byTarget {
		t, err := q.s.Queue(name)
		if err == nil && name == q.meta.Name {
			err = errors.New("a message cannot move to the queue it is in")
		}
		if err == nil {
			err = t.adopt(ctx, group, q.meta.Name)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, m := range group {
			moved[m] = true
		}
	}
	q.mu.Lock()
	if q.usable() != nil {
		q.mu.Unlock()
		return len(moved), errors.Join(errs...)
	}
	buf := q.scratch[:0]
	for _, m := range ms {
		m.moving = false
		if m.gone {
			continue
		}
		if moved[m] {
			q.remove(m)
			buf = appendDelete(buf, m.id)
		} else {
			q.push(m)
		}
	}
	b := q.enqueue(buf, false)
	q.mu.Unlock()
	errs = append(errs, q.commit(b))
	return len(moved), errors.Join(errs...)
}
