package log

import (
	"sync"
	"testing"
	"time"
)

// isClosed says whether ch is closed, waiting at most d for it.
func isClosed(ch <-chan struct{}, d time.Duration) bool {
	if d == 0 {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func TestChanged(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{Fsync: FsyncNever})
	ch := l.Changed()
	if l.Changed() != ch {
		t.Fatal("Changed handed out two channels before a commit")
	}
	if isClosed(ch, 0) {
		t.Fatal("Changed channel closed before any commit")
	}
	appendN(t, l, 3, 3)
	if !isClosed(ch, 0) {
		t.Fatal("Changed channel still open after Append returned")
	}
	next := l.Changed()
	if isClosed(next, 0) {
		t.Fatal("fresh Changed channel already closed")
	}
	if err := l.AppendAsync([][]byte{payload(4)}, nil, func(uint64, error) {}); err != nil {
		t.Fatal(err)
	}
	if !isClosed(next, 5*time.Second) {
		t.Fatal("Changed channel not closed by AppendAsync's commit")
	}
	last := l.Changed()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !isClosed(last, 0) || !isClosed(l.Changed(), 0) {
		t.Fatal("Close left a Changed channel open")
	}
}

// TestChangedNoLostWakeup: readers that wait as Changed's doc says see
// every commit of concurrent appenders, without polling.
func TestChangedNoLostWakeup(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{SegmentBytes: 4 << 10})
	defer l.Close()
	const writers, perWriter, readers = 4, 50, 3
	total := uint64(writers * perWriter)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			seq := l.NextSeq()
			for seq <= total {
				ch := l.Changed()
				if next := l.NextSeq(); next > seq {
					recs, n, err := l.Read(seq, 1000, 1<<20)
					if err != nil || len(recs) == 0 {
						t.Errorf("reader %d: Read(%d) = %d records, %v", r, seq, len(recs), err)
						return
					}
					seq = n
					continue
				}
				if !isClosed(ch, 10*time.Second) {
					t.Errorf("reader %d: no wake-up at %d of %d", r, seq, total)
					return
				}
			}
		})
	}
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if _, err := l.Append([][]byte{payload(uint64(w*perWriter + i))}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestAppendAsync(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Options{})
	var wg sync.WaitGroup
	firsts := make([]uint64, 10)
	for i := range firsts {
		wg.Add(1)
		err := l.AppendAsync([][]byte{payload(1), payload(2)}, [][]byte{header(1), header(2)}, func(first uint64, err error) {
			if err != nil {
				t.Errorf("append %d: %v", i, err)
			}
			firsts[i] = first
			wg.Done()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, f := range firsts {
		if f == 0 || f%2 != 1 || seen[f] {
			t.Fatalf("first sequence numbers %v: want distinct odd numbers", firsts)
		}
		seen[f] = true
	}
	called := false
	if err := l.AppendAsync(nil, nil, func(first uint64, err error) { called = first == 21 && err == nil }); err != nil || !called {
		t.Fatalf("empty AppendAsync: err %v, done called right %v", err, called)
	}
	if err := l.AppendAsync([][]byte{{1}}, [][]byte{}, nil); err == nil {
		t.Fatal("AppendAsync with mismatched headers succeeded")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendAsync([][]byte{{1}}, nil, func(uint64, error) { t.Error("done called after Close") }); err == nil {
		t.Fatal("AppendAsync after Close succeeded")
	}
}
