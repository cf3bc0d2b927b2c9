package server

// Enhanced monitoring: EnableEnhancedMonitoring and
// DisableEnhancedMonitoring choose a stream's shard-level metrics (kept in
// stream.json), which the store then exposes per shard in the Server's
// metrics set (VictoriaMetrics, registered globally by New, so every
// /metrics of the process shows them), labelled stream and shard:
//
//	IncomingBytes                       sluice_store_shard_incoming_bytes_total (data and partition keys)
//	IncomingRecords                     sluice_store_shard_incoming_records_total
//	OutgoingBytes                       sluice_store_shard_outgoing_bytes_total (data)
//	OutgoingRecords                     sluice_store_shard_outgoing_records_total
//	WriteProvisionedThroughputExceeded  sluice_store_shard_write_provisioned_throughput_exceeded_total
//	ReadProvisionedThroughputExceeded   sluice_store_shard_read_provisioned_throughput_exceeded_total
//	IteratorAgeMilliseconds             sluice_store_shard_iterator_age_milliseconds (the last GetRecords' MillisBehindLatest)
//
// The store does not throttle shards, so the two throughput-exceeded
// counters stay at 0. Counting costs an atomic add per append batch and
// per GetRecords answer, and nothing for a stream without metrics.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/VictoriaMetrics/metrics"
	"github.com/sluicehq/sluice/store"
)

// shardLevelMetrics are the metric names of the API, in AWS's order.
var shardLevelMetrics = []string{
	"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
	"WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds",
}

// metricFamilies are the Prometheus names of shardLevelMetrics.
var metricFamilies = map[string]string{
	"IncomingBytes":                      "sluice_store_shard_incoming_bytes_total",
	"IncomingRecords":                    "sluice_store_shard_incoming_records_total",
	"OutgoingBytes":                      "sluice_store_shard_outgoing_bytes_total",
	"OutgoingRecords":                    "sluice_store_shard_outgoing_records_total",
	"WriteProvisionedThroughputExceeded": "sluice_store_shard_write_provisioned_throughput_exceeded_total",
	"ReadProvisionedThroughputExceeded":  "sluice_store_shard_read_provisioned_throughput_exceeded_total",
	"IteratorAgeMilliseconds":            "sluice_store_shard_iterator_age_milliseconds",
}

// shardCounters are one shard's enabled metrics; a nil field is a metric
// not enabled.
type shardCounters struct {
	inBytes, inRecords, outBytes, outRecords *metrics.Counter
	iteratorAge                              *metrics.Gauge
	names                                    []string // registered, to unregister
}

// wrote counts an append of records records and bytes bytes.
func (c *shardCounters) wrote(records, bytes int) {
	if c == nil {
		return
	}
	if c.inRecords != nil {
		c.inRecords.Add(records)
	}
	if c.inBytes != nil {
		c.inBytes.Add(bytes)
	}
}

// read counts a GetRecords answer.
func (c *shardCounters) read(records, bytes int, behind int64) {
	if c == nil {
		return
	}
	if c.outRecords != nil {
		c.outRecords.Add(records)
	}
	if c.outBytes != nil {
		c.outBytes.Add(bytes)
	}
	if c.iteratorAge != nil {
		c.iteratorAge.Set(float64(behind))
	}
}

func metricName(family, stream, shard string) string {
	return fmt.Sprintf(`%s{stream=%q,shard=%q}`, family, stream, shard)
}

// syncMetrics makes the registered metrics of every shard match
// meta.ShardLevelMetrics: it registers those missing (new shards, newly
// enabled metrics), keeps the others counting and unregisters the rest.
// Callers hold st.mu for writing (or own st alone).
func (st *stream) syncMetrics(set *metrics.Set) {
	old := st.metrics
	st.metrics = nil
	want := map[string]bool{}
	if len(st.meta.ShardLevelMetrics) > 0 {
		st.metrics = make(map[string]*shardCounters, len(st.shards.Shards))
	}
	for _, sh := range st.shards.Shards {
		if st.metrics == nil {
			break
		}
		c := &shardCounters{}
		for _, m := range st.meta.ShardLevelMetrics {
			name := metricName(metricFamilies[m], st.meta.Name, sh.ID)
			c.names = append(c.names, name)
			want[name] = true
			switch m {
			case "IncomingBytes":
				c.inBytes = set.GetOrCreateCounter(name)
			case "IncomingRecords":
				c.inRecords = set.GetOrCreateCounter(name)
			case "OutgoingBytes":
				c.outBytes = set.GetOrCreateCounter(name)
			case "OutgoingRecords":
				c.outRecords = set.GetOrCreateCounter(name)
			case "IteratorAgeMilliseconds":
				c.iteratorAge = set.GetOrCreateGauge(name, nil)
			default: // the throughput-exceeded counters: never counted
				set.GetOrCreateCounter(name)
			}
		}
		st.metrics[sh.ID] = c
	}
	for _, c := range old {
		for _, name := range c.names {
			if !want[name] {
				set.UnregisterMetric(name)
			}
		}
	}
}

// checkShardLevelMetrics validates the ShardLevelMetrics member and
// returns the metrics it names, ALL expanded.
func checkShardLevelMetrics(in []string) ([]string, error) {
	var c checker
	shown := "[" + strings.Join(in, ", ") + "]"
	switch {
	case in == nil:
		c.null("shardLevelMetrics")
	case len(in) == 0:
		c.fail(shown, true, "shardLevelMetrics", fmt.Sprintf(store.MsgMinLength, 1))
	case len(in) > len(shardLevelMetrics):
		c.fail(shown, true, "shardLevelMetrics", fmt.Sprintf(store.MsgMaxLength, len(shardLevelMetrics)))
	}
	for _, m := range in {
		if m != "ALL" && !slices.Contains(shardLevelMetrics, m) {
			c.fail(shown, true, "shardLevelMetrics",
				fmt.Sprintf(store.MsgEach, fmt.Sprintf(store.MsgEnum, strings.Join(shardLevelMetrics, ", ")+", ALL")))
			break
		}
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	if slices.Contains(in, "ALL") {
		return shardLevelMetrics, nil
	}
	return in, nil
}

// withMetrics returns the metrics of cur with change added (or removed),
// in AWS's order.
func withMetrics(cur, change []string, enable bool) []string {
	var out []string
	for _, m := range shardLevelMetrics {
		on := slices.Contains(cur, m)
		if slices.Contains(change, m) {
			on = enable
		}
		if on {
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) changeMonitoring(body []byte, enable bool) (any, error) {
	var in struct {
		streamRef
		ShardLevelMetrics []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	change, err := checkShardLevelMetrics(in.ShardLevelMetrics)
	if err != nil {
		return nil, err
	}
	st, unlock, err := s.locked(in.name(), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cur := st.meta.ShardLevelMetrics
	st.meta.ShardLevelMetrics = withMetrics(cur, change, enable)
	if err := st.save(); err != nil {
		st.meta.ShardLevelMetrics = cur
		return nil, err
	}
	st.syncMetrics(s.metrics)
	return map[string]any{
		"StreamName":               st.meta.Name,
		"StreamARN":                s.arn(st.meta.Name),
		"CurrentShardLevelMetrics": nonNil(cur),
		"DesiredShardLevelMetrics": nonNil(st.meta.ShardLevelMetrics),
	}, nil
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func (s *Server) enableMonitoring(body []byte) (any, error)  { return s.changeMonitoring(body, true) }
func (s *Server) disableMonitoring(body []byte) (any, error) { return s.changeMonitoring(body, false) }

// enhancedMonitoring is DescribeStream's EnhancedMonitoring. Callers hold
// st.mu.
func (st *stream) enhancedMonitoring() []map[string][]string {
	return []map[string][]string{{"ShardLevelMetrics": nonNil(st.meta.ShardLevelMetrics)}}
}

// shardMetrics are the counters of shard id, or nil. Callers hold st.mu.
func (st *stream) shardMetrics(id string) *shardCounters {
	if st.metrics == nil {
		return nil
	}
	return st.metrics[id]
}
