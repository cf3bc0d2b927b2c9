package triggers

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/sluicehq/sluice/internal/atomicfile"
)

// shardEnd is the position of a partition read to its end.
const shardEnd = "SHARD_END"

// positions are the last sequence number done per partition, kept in a
// file (when path is set) written whole, fsync'd and renamed into place at
// each change.
type positions struct {
	path string
	mu   sync.Mutex
	m    map[string]string
	gen  int64 // changes made to m
	// wmu orders the writes; written is the gen of the last one done.
	// Partitions that change their positions while a write is in flight
	// share the next one (group commit).
	wmu     sync.Mutex
	written int64
	// latestFrom is when a trigger starting at LATEST first ran (Unix
	// ms; 0: not set): a partition without a position starts at the
	// records that arrived since, so a restart skips none of them.
	latestFrom int64
}

type positionsFile struct {
	Source     string            `json:"source"`
	Positions  map[string]string `json:"positions"`
	LatestFrom int64             `json:"latestFrom,omitempty"`
}

// loadPositions reads the positions file at path ("": none, in memory
// only), for source.
func loadPositions(path, source string) (*positions, error) {
	p := &positions{path: path, m: map[string]string{}}
	if path == "" {
		return p, nil
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	var f positionsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("positions file %s: %w", path, err)
	}
	if f.Source != source {
		return nil, fmt.Errorf("positions file %s holds the positions of %q, not of %q: remove it to start over", path, f.Source, source)
	}
	if f.Positions != nil {
		p.m = f.Positions
	}
	p.latestFrom = f.LatestFrom
	return p, nil
}

func (p *positions) get(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[id]
}

// setLatestFrom records, once, when a trigger starting at LATEST first
// ran, and returns it.
func (p *positions) setLatestFrom(source string, ms int64) (int64, error) {
	p.mu.Lock()
	if p.latestFrom != 0 {
		p.mu.Unlock()
		return p.latestFrom, nil
	}
	p.latestFrom = ms
	p.gen++
	gen := p.gen
	p.mu.Unlock()
	return ms, p.flush(source, gen)
}

// set records the position of partition id and makes it durable.
func (p *positions) set(source, id, seq string) error {
	p.mu.Lock()
	p.m[id] = seq
	p.gen++
	gen := p.gen
	p.mu.Unlock()
	return p.flush(source, gen)
}

// flush returns once a write holding change gen is durable.
func (p *positions) flush(source string, gen int64) error {
	if p.path == "" {
		return nil
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if p.written >= gen {
		return nil // written with another partition's change
	}
	p.mu.Lock()
	data, err := json.Marshal(positionsFile{Source: source, Positions: p.m, LatestFrom: p.latestFrom})
	last := p.gen
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(p.path, data, 0o600); err != nil {
		return fmt.Errorf("positions file %s: %w", p.path, err)
	}
	p.written = last
	return nil
}
