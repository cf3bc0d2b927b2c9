package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/atomicfile"
)

// Files of a queue folder.
const (
	metaFile = "queue.json"
	logFile  = "messages.log"
	// trashPrefix starts the name Delete renames a queue folder to before
	// removing it; Open removes any it finds.
	trashPrefix = "~deleted~"
)

// Options configure a Store. The zero value fsyncs every group commit and
// uses the wall clock.
type Options struct {
	// NoSync acknowledges writes once they reach the OS, without fsync.
	// UNSAFE: acknowledged messages can be lost on power failure.
	NoSync bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logf receives reports (torn tails cut); nil writes to standard error.
	Logf func(format string, args ...any)
	// Limits bound the messages in flight; zero fields take SQS's.
	Limits Limits
}

// Limits bound the messages in flight of each queue, as SQS's quotas do.
type Limits struct {
	// MaxInFlight bounds the messages in flight (received, neither deleted
	// nor visible again) of a standard queue; a receive that does not wait
	// then fails with ErrOverLimit, one that waits (long polling) waits
	// for room. Zero means DefaultMaxInFlight.
	MaxInFlight int
	// MaxInFlightFIFO bounds those of a FIFO queue; a receive then returns
	// no more messages. Zero means DefaultMaxInFlightFIFO.
	MaxInFlightFIFO int
}

// SQS's limits of messages in flight.
const (
	DefaultMaxInFlight     = 120_000
	DefaultMaxInFlightFIFO = 20_000
)

// Store is the queues in one folder.
type Store struct {
	dir   string
	opts  Options
	stop  chan struct{} // closed by Close: long polls return, move tasks end
	moves moves

	mu     sync.Mutex
	queues map[string]*Queue
	closed bool
}

// Open opens (or creates) the queues in dir. The caller must Close the Store.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logf == nil {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	if opts.Limits.MaxInFlight <= 0 {
		opts.Limits.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Limits.MaxInFlightFIFO <= 0 {
		opts.Limits.MaxInFlightFIFO = DefaultMaxInFlightFIFO
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create queue folder %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list queue folder %s: %w", dir, err)
	}
	s := &Store{dir: dir, opts: opts, stop: make(chan struct{}), queues: map[string]*Queue{}}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), trashPrefix) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				s.Close()
				return nil, fmt.Errorf("cannot remove deleted queue %s: %w", e.Name(), err)
			}
			continue
		}
		if !e.IsDir() || ValidateName(e.Name()) != nil {
			continue
		}
		q, err := s.openQueue(e.Name())
		if errors.Is(err, os.ErrNotExist) {
			_ = os.RemoveAll(filepath.Join(dir, e.Name())) // a create that crashed before its queue.json
			continue
		}
		if err != nil {
			s.Close()
			return nil, err
		}
		s.queues[q.meta.Name] = q
	}
	s.resumeMoves()
	return s, nil
}

func (s *Store) openQueue(name string) (*Queue, error) {
	dir := filepath.Join(s.dir, name)
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, err
	}
	q := &Queue{s: s, dir: dir, msgs: map[[16]byte]*msg{}, changed: make(chan struct{}), dedups: map[string]dedupEntry{}}
	if err := json.Unmarshal(b, &q.meta); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", filepath.Join(dir, metaFile), err)
	}
	q.meta.Name = name
	if q.w, err = openWAL(filepath.Join(dir, logFile), !s.opts.NoSync, q.apply, s.opts.Logf); err != nil {
		return nil, err
	}
	q.rebuildHeap()
	q.countInflight(s.opts.Now().UnixMilli())
	q.rd, _ = parseRedrive(q.meta.Attributes.RedrivePolicy)
	if q.fifo() {
		q.rebuildOrder()
	}
	return q, nil
}

// ValidateName checks a queue name: 1 to 80 characters of A-Z a-z 0-9 - _,
// the last five ".fifo" for a FIFO queue.
func ValidateName(name string) error {
	if len(name) > 80 {
		return &ValueError{Name: "QueueName", Reason: "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"}
	}
	name = strings.TrimSuffix(name, ".fifo")
	if name == "" {
		return &ValueError{Name: "QueueName", Reason: "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"}
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return &ValueError{Name: "QueueName", Reason: "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"}
		}
	}
	return nil
}

// Create creates a queue with attributes (over DefaultAttributes) and
// tags, or returns the queue of that name when its attributes equal the
// result (ErrQueueExists when they differ; the tags are then not applied).
func (s *Store) Create(name string, attrs, tags map[string]string) (*Queue, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	if p, ok := attrs[AttrRedrivePolicy]; ok { // before s.mu: it looks at the target queue
		if err := s.checkRedrive(name, strings.HasSuffix(name, ".fifo"), p); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if q := s.queues[name]; q != nil {
		cur := q.Settings()
		want, err := cur.With(attrs)
		if err != nil {
			return nil, err
		}
		if want != cur {
			return nil, ErrQueueExists
		}
		return q, nil
	}
	a, err := DefaultAttributes().With(attrs)
	if err != nil {
		return nil, err
	}
	if err := a.checkFIFO(name, attrs); err != nil {
		return nil, err
	}
	now := s.opts.Now().Unix()
	m := meta{Name: name, Attributes: a, Created: now, Modified: now}
	if len(tags) > 0 {
		m.Tags = map[string]string{}
		for k, v := range tags {
			m.Tags[k] = v
		}
	}
	dir := filepath.Join(s.dir, name)
	_ = os.RemoveAll(dir) // a create that crashed before its queue.json
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: cannot create queue folder %s: %v", ErrUnavailable, dir, err)
	}
	q := &Queue{s: s, dir: dir, meta: m, msgs: map[[16]byte]*msg{}, changed: make(chan struct{}), dedups: map[string]dedupEntry{}}
	q.rd, _ = parseRedrive(a.RedrivePolicy)
	if q.w, err = openWAL(filepath.Join(dir, logFile), !s.opts.NoSync, q.apply, s.opts.Logf); err != nil {
		return nil, err
	}
	if err := q.saveMeta(m); err != nil {
		q.w.close()
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		q.w.close()
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s.queues[name] = q
	return q, nil
}

// Queue returns the queue of that name, or ErrQueueNotFound.
func (s *Store) Queue(name string) (*Queue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	q := s.queues[name]
	if q == nil {
		return nil, ErrQueueNotFound
	}
	return q, nil
}

// List returns the names of the queues that start with prefix, sorted.
func (s *Store) List(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.queues {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Delete deletes a queue and its messages: its folder is renamed to a
// trash name (so a crash never leaves half a queue) and removed.
func (s *Store) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	q := s.queues[name]
	if q == nil {
		return ErrQueueNotFound
	}
	q.mu.Lock()
	q.deleted = true
	q.wake()
	q.mu.Unlock()
	err := q.w.close()
	trash := filepath.Join(s.dir, fmt.Sprintf("%s%s~%d", trashPrefix, name, s.opts.Now().UnixNano()))
	if rerr := os.Rename(q.dir, trash); rerr != nil {
		return fmt.Errorf("%w: cannot delete queue %s: %v", ErrUnavailable, name, rerr)
	}
	delete(s.queues, name)
	_ = atomicfile.SyncDir(s.dir)
	_ = os.RemoveAll(trash)
	_ = err
	return nil
}

// Close writes what is queued and closes every queue; long polls return.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.moves.wg.Wait() // outside s.mu: a task looks queues up
	s.mu.Lock()
	list := make([]*Queue, 0, len(s.queues))
	for _, q := range s.queues {
		list = append(list, q)
	}
	s.mu.Unlock()
	var errs []error
	for _, q := range list {
		q.mu.Lock()
		q.closed = true
		q.mu.Unlock()
		errs = append(errs, q.w.close())
	}
	return errors.Join(errs...)
}
