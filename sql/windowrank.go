package sql

import (
	"github.com/sluicehq/sluice/operators/rank"
)

// Window Top-N and window deduplication (Flink's): a Top-N whose
// PARTITION BY lists window_start and window_end of a window table
// function — directly (SELECT *, ROW_NUMBER() OVER (PARTITION BY
// window_start, window_end, … ORDER BY …) AS rn FROM TABLE(TUMBLE(…))) or
// through a window aggregation over one that selects them — is planned as
// rank.NewWindow: each window's top rows are emitted once, as +I, when
// the watermark passes the window's end, and its state freed; the result
// is append-only. To know them, a stream marks its columns that are a
// window_start or window_end (stream.wcols), kept through SELECT *, column
// references, renames, views and subqueries. Ordered by a time column and
// kept to rn = 1 it is a window deduplication (DESC keeps the last row).
// A row of a window the watermark has passed is late: dropped and counted
// by the operator. The input must be append-only.

// Kinds of stream.wcols.
const (
	windowStart int8 = 1
	windowEnd   int8 = 2
)

// carryWindowCol records in wcols (grown as needed) that output column
// at copies input column c, when c is a window column of in.
func carryWindowCol(wcols, in []int8, c, at int) []int8 {
	if c < 0 || c >= len(in) || in[c] == 0 {
		return wcols
	}
	for len(wcols) <= at {
		wcols = append(wcols, 0)
	}
	wcols[at] = in[c]
	return wcols
}

// fitWindowCols returns wcols sized n, or nil when it marks nothing.
func fitWindowCols(wcols []int8, n int) []int8 {
	if len(wcols) == 0 {
		return nil
	}
	for len(wcols) < n {
		wcols = append(wcols, 0)
	}
	return wcols[:n]
}

// windowRankSpec returns the window Top-N of a Top-N over in whose
// partition columns are partCols, when they include a window_start and a
// window_end of in; ok is false otherwise.
func windowRankSpec(in *stream, partCols []int) (spec rank.WindowSpec, ok bool) {
	if in.wcols == nil || in.updating {
		return spec, false
	}
	spec.WindowStartCol, spec.WindowEndCol = -1, -1
	for _, c := range partCols {
		switch in.wcols[c] {
		case windowStart:
			spec.WindowStartCol = c
		case windowEnd:
			spec.WindowEndCol = c
		default:
			spec.PartitionCols = append(spec.PartitionCols, c)
		}
	}
	if spec.WindowStartCol < 0 || spec.WindowEndCol < 0 {
		return spec, false
	}
	spec.In = in.schema
	return spec, true
}
