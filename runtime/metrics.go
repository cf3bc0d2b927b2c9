package runtime

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// OperatorMetrics are the metrics of one operator subtask, exported in
// Prometheus text format as sluice_* series labelled by job, operator and
// subtask. Counters are updated once per batch, not per row.
type OperatorMetrics struct {
	RowsIn          *metrics.Counter
	RowsOut         *metrics.Counter
	BatchesIn       *metrics.Counter
	LateRowsDropped *metrics.Counter
	// BadRecords counts input records that could not be decoded and went to
	// the error path instead.
	BadRecords *metrics.Counter

	stateKeys atomic.Int64
	watermark atomic.Int64
}

// SetStateKeys records how many keys the operator holds in state.
func (m *OperatorMetrics) SetStateKeys(n int) { m.stateKeys.Store(int64(n)) }

// StateKeys returns the last value given to SetStateKeys.
func (m *OperatorMetrics) StateKeys() int64 { return m.stateKeys.Load() }

// NewOperatorMetrics returns the metrics of subtask subtask of operator in
// job, registered in set. The runtime makes them for every subtask it runs;
// tests that drive an operator directly use this to give it a Context with
// working metrics.
func NewOperatorMetrics(set *metrics.Set, job, operator string, subtask int) *OperatorMetrics {
	return newOperatorMetrics(set, job, operator, subtask)
}

func newOperatorMetrics(set *metrics.Set, job, op string, subtask int) *OperatorMetrics {
	labels := fmt.Sprintf(`{job=%s,operator=%s,subtask="%d"}`, strconv.Quote(job), strconv.Quote(op), subtask)
	m := &OperatorMetrics{
		RowsIn:          set.GetOrCreateCounter("sluice_operator_rows_in_total" + labels),
		RowsOut:         set.GetOrCreateCounter("sluice_operator_rows_out_total" + labels),
		BatchesIn:       set.GetOrCreateCounter("sluice_operator_batches_in_total" + labels),
		LateRowsDropped: set.GetOrCreateCounter("sluice_operator_late_rows_dropped_total" + labels),
		BadRecords:      set.GetOrCreateCounter("sluice_operator_bad_records_total" + labels),
	}
	m.watermark.Store(MinWatermark)
	set.GetOrCreateGauge("sluice_operator_state_keys"+labels, func() float64 { return float64(m.stateKeys.Load()) })
	set.GetOrCreateGauge("sluice_operator_watermark_lag_seconds"+labels, func() float64 {
		wm := m.watermark.Load()
		if wm == MinWatermark || wm == MaxWatermark {
			return 0
		}
		return float64(time.Now().UnixMilli()-wm) / 1000
	})
	return m
}
