package vehicles

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// Source is one subtask of a vehicles table: subtask s of p drives vehicles
// s, s+p, s+2p, … and emits their reports tick by tick; it is partition s
// for the watermark. It implements runtime.CheckpointedSource.
type Source struct {
	cfg *config

	subtask, par int64
	fleet        []vehicle
	ids          []string
	tick         int64 // the tick being emitted
	next         int   // index in fleet of the next vehicle to report at tick
	b            *runtime.Batch
	polled       bool

	throttle connectors.Throttle

	restored  *position // of the checkpoint (its parallelism), nil: none
	all       []position
	restoring bool
}

var (
	_ runtime.Source             = (*Source)(nil)
	_ runtime.PartitionedSource  = (*Source)(nil)
	_ runtime.CheckpointedSource = (*Source)(nil)
)

// Open prepares subtask ctx.Subtask of ctx.Parallelism.
func (s *Source) Open(ctx *runtime.Context) error {
	s.subtask, s.par = int64(ctx.Subtask), int64(max(ctx.Parallelism, 1))
	for num := s.subtask; num < s.cfg.n; num += s.par {
		s.fleet = append(s.fleet, newVehicle(s.cfg, num))
		id := strconv.FormatInt(num, 10)
		for len(id) < s.cfg.idWidth {
			id = "0" + id
		}
		s.ids = append(s.ids, "v-"+id)
	}
	s.b = runtime.NewBatch(s.cfg.schema)
	if s.restoring {
		if err := s.restore(); err != nil {
			return err
		}
	}
	if s.cfg.rate > 0 {
		s.throttle = connectors.NewThrottle(s.cfg.rate*float64(len(s.fleet))/float64(s.cfg.n), runtime.DefaultBatchRows)
	}
	return nil
}

// Partitions returns this subtask's one partition, its index.
func (s *Source) Partitions() []int { return []int{int(s.subtask)} }

// done reports whether the row of the next vehicle at tick is past the end.
func (s *Source) done() bool {
	if len(s.fleet) == 0 {
		return true
	}
	if s.cfg.rows < 0 {
		return false
	}
	// Row tick·n + num exists when it is below rows.
	num := s.fleet[s.next].num
	return s.cfg.rows <= num || s.tick > (s.cfg.rows-1-num)/s.cfg.n
}

// Poll returns the next reports, at most runtime.DefaultBatchRows; io.EOF
// once a bounded table is done. The batch is borrowed until the next call.
func (s *Source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	if s.done() {
		return nil, 0, io.EOF
	}
	s.polled = true
	n := s.throttle.Take(ctx, runtime.DefaultBatchRows)
	if n == 0 {
		return nil, 0, nil
	}
	b := s.b
	for c := range b.Cols {
		b.Cols[c].Reset()
	}
	rows := 0
	for int64(rows) < n && !s.done() {
		v := &s.fleet[s.next]
		ts := s.cfg.start + s.tick*s.cfg.intervalMs
		for c, k := range s.cfg.cols {
			col := &b.Cols[c]
			switch k {
			case colID:
				if col.Type == runtime.BigInt {
					col.AppendInt(v.num)
				} else {
					col.AppendString(s.ids[s.next])
				}
			case colLat:
				col.AppendFloat(v.lat)
			case colLon:
				col.AppendFloat(v.lon)
			case colSpeed:
				col.AppendFloat(v.speed)
			case colHeading:
				col.AppendFloat(v.heading)
			case colTS:
				col.AppendInt(ts)
			}
		}
		v.step(s.cfg.box)
		rows++
		s.next++
		if s.next == len(s.fleet) {
			s.next = 0
			s.tick++
		}
	}
	s.throttle.Sent(int64(rows))
	b.N, b.Sel = rows, nil
	return b, int(s.subtask), nil
}

// Close releases the subtask's batch.
func (s *Source) Close() error {
	s.throttle.Stop()
	if s.b != nil {
		s.b.Release()
		s.b = nil
	}
	return nil
}

// position is a subtask's checkpointed position (JSON): the tick it emits
// and the index, among its vehicles, of the next one to report.
type position struct {
	Table       string `json:"table"`
	Subtask     int64  `json:"subtask"`
	Parallelism int64  `json:"parallelism"`
	Tick        int64  `json:"tick"`
	Next        int    `json:"next"`
}

// SnapshotPosition returns the subtask's position: called between Polls,
// it covers exactly the rows of the batches returned so far.
func (s *Source) SnapshotPosition() ([]byte, error) {
	return json.Marshal(position{Table: s.cfg.table, Subtask: s.subtask, Parallelism: s.par, Tick: s.tick, Next: s.next})
}

// RestorePositions takes the positions of every subtask of a checkpoint
// (before Open); Open picks this subtask's.
func (s *Source) RestorePositions(all [][]byte) error {
	s.restoring = true
	var ps []position
	for i, data := range all {
		var p position
		if err := json.Unmarshal(data, &p); err != nil {
			return fmt.Errorf("table %s: checkpointed position %d of the vehicles source is not readable: %v", s.cfg.table, i, err)
		}
		if p.Parallelism < 1 || p.Subtask < 0 || p.Subtask >= p.Parallelism || p.Tick < 0 || p.Next < 0 {
			return fmt.Errorf("table %s: checkpointed position %d of the vehicles source is not valid: subtask %d of %d at tick %d, vehicle %d",
				s.cfg.table, i, p.Subtask, p.Parallelism, p.Tick, p.Next)
		}
		for _, q := range ps {
			if q.Subtask == p.Subtask {
				return fmt.Errorf("table %s: the checkpoint holds two positions of vehicles subtask %d", s.cfg.table, p.Subtask)
			}
		}
		if len(ps) > 0 && p.Parallelism != ps[0].Parallelism {
			return fmt.Errorf("table %s: the checkpointed positions of the vehicles source disagree on its parallelism (%d and %d)",
				s.cfg.table, ps[0].Parallelism, p.Parallelism)
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil
	}
	// Open checks the parallelism and picks this subtask's.
	s.restored = &position{Parallelism: ps[0].Parallelism}
	s.all = ps
	return nil
}

// restore replays this subtask's vehicles up to the checkpointed position.
func (s *Source) restore() error {
	if s.restored == nil {
		return nil
	}
	if was := s.restored.Parallelism; was != s.par {
		return fmt.Errorf("table %s: the checkpoint was taken with %d vehicles subtasks and the job now runs %d; "+
			"a vehicles source can only be restored with the parallelism of its checkpoint (%d)", s.cfg.table, was, s.par, was)
	}
	for _, p := range s.all {
		if p.Subtask != s.subtask {
			continue
		}
		if p.Next > len(s.fleet) || (p.Next == len(s.fleet) && p.Next > 0) {
			return fmt.Errorf("table %s: checkpointed vehicle %d of subtask %d is past its %d vehicles (were the options changed?)",
				s.cfg.table, p.Next, s.subtask, len(s.fleet))
		}
		if p.Tick > math.MaxInt64/2 || (s.cfg.rows >= 0 && p.Tick > s.cfg.rows/s.cfg.n+1) {
			return fmt.Errorf("table %s: checkpointed tick %d of the vehicles source is not valid", s.cfg.table, p.Tick)
		}
		for i := range s.fleet {
			until := p.Tick
			if i < p.Next {
				until++
			}
			for s.fleet[i].tick < until {
				s.fleet[i].step(s.cfg.box)
			}
		}
		s.tick, s.next = p.Tick, p.Next
		return nil
	}
	if len(s.fleet) == 0 {
		return nil // a subtask without vehicles has nothing to go on with
	}
	return fmt.Errorf("table %s: the checkpoint holds no position of vehicles subtask %d of %d", s.cfg.table, s.subtask, s.par)
}
