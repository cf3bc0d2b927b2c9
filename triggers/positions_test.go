package triggers

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestPositionsGroupCommitKeepsEveryPartitionsLast: partitions that set
// their positions at once share writes, and the file holds each one's
// last position when every set has returned.
func TestPositionsGroupCommitKeepsEveryPartitionsLast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.positions")
	p, err := loadPositions(path, "s")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if err := p.set("s", fmt.Sprint("shard", w), fmt.Sprint(i)); err != nil {
					t.Error(err)
				}
				// Once set returns, the file holds it (or later).
				q, err := loadPositions(path, "s")
				if err != nil {
					t.Error(err)
					return
				}
				if got := q.get(fmt.Sprint("shard", w)); got != fmt.Sprint(i) {
					t.Errorf("shard%d: the file holds %q after set %d returned", w, got, i)
					return
				}
			}
		})
	}
	wg.Wait()
	q, err := loadPositions(path, "s")
	if err != nil {
		t.Fatal(err)
	}
	for w := range 8 {
		if got := q.get(fmt.Sprint("shard", w)); got != "49" {
			t.Errorf("shard%d: %q, want 49", w, got)
		}
	}
}
