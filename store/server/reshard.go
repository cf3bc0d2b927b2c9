package server

import (
	"github.com/sluicehq/sluice/store"
)

// reshard applies change to the shard map of the named stream, an ACTIVE
// one, which is UPDATING while it runs and for the state delay after.
func (s *Server) reshard(name string, change func(m *store.ShardMap) error) error {
	st, err := s.lookup(name)
	if err != nil {
		return err
	}
	return s.reshardStream(st, true, change)
}

// reshardStream applies change to st's shard map under the stream's write
// lock, recording the closing shards' ending sequence numbers, opening the
// new shards' logs and saving stream.json. On failure the map is restored.
// With updating, the stream must be ACTIVE (else ResourceInUseException)
// and is UPDATING while change runs and for the state delay after a change.
func (s *Server) reshardStream(st *stream, updating bool, change func(m *store.ShardMap) error) (err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.gone(); err != nil {
		return err
	}
	if updating {
		if err := st.state.begin(st.meta.Name, statusUpdating); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				st.state.end(0)
			} else {
				st.state.end(s.stateDelay())
			}
		}()
	}
	backup := &store.ShardMap{NextID: st.shards.NextID}
	for _, sh := range st.shards.Shards {
		c := *sh
		backup.Shards = append(backup.Shards, &c)
	}
	if err := change(st.shards); err != nil {
		return err
	}
	added := len(st.shards.Shards) - len(backup.Shards)
	if err := s.takeShards(added); err != nil {
		st.shards = backup
		return err
	}
	for _, sh := range st.shards.Shards {
		if _, ok := st.endSeq[sh.ID]; sh.Closed && !ok {
			st.endSeq[sh.ID] = st.logs[sh.ID].NextSeq()
		}
	}
	err = st.openLogs(s.logOptions())
	if err == nil {
		err = st.save()
	}
	if err != nil {
		for id, l := range st.logs {
			if _, err := backup.Get(id); err != nil {
				l.Close()
				delete(st.logs, id)
			}
		}
		for _, sh := range backup.Shards {
			if !sh.Closed {
				delete(st.endSeq, sh.ID)
			}
		}
		st.shards = backup
		s.giveShards(added)
		return err
	}
	st.syncMetrics(s.metrics) // new shards' metrics
	st.notify()               // long-polling readers of a closed shard answer with its children
	return nil
}

func (s *Server) splitShard(body []byte) (any, error) {
	var in struct {
		streamRef
		ShardToSplit       string
		NewStartingHashKey string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	h, err := store.ParseHashKey(in.NewStartingHashKey)
	if err != nil {
		return nil, apiErr(store.ErrInvalidArgument, "NewStartingHashKey %q: %v", in.NewStartingHashKey, err)
	}
	err = s.reshard(in.name(), func(m *store.ShardMap) error {
		if n := len(m.Open()); n >= MaxShardsPerStream {
			return apiErr(store.ErrLimitExceeded, "The stream already has %d open shards, the limit.", n)
		}
		_, _, err := m.Split(in.ShardToSplit, h)
		return err
	})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Server) mergeShards(body []byte) (any, error) {
	var in struct {
		streamRef
		ShardToMerge         string
		AdjacentShardToMerge string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	err := s.reshard(in.name(), func(m *store.ShardMap) error {
		_, err := m.Merge(in.ShardToMerge, in.AdjacentShardToMerge)
		return err
	})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
