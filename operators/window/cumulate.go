package window

import "time"

// Cumulate returns cumulating windows, as Flink's CUMULATE table function:
// windows of the largest size size start every size (plus Offset), and
// each is reported at every step as it grows: [start, start+step),
// [start, start+2·step), …, [start, start+size). A row belongs to every
// window of its period that ends after it; each fires when the watermark
// passes its end. size must be a multiple of step.
//
// A GROUP BY window_start, window_end (and keys) over a CUMULATE table
// function is this aggregation: window.New with Window: Cumulate(step,
// size) (and its Offset), TimeCol the DESCRIPTOR column, keyed by the
// other grouping columns; the rows need not go through NewAssign first.
func Cumulate(step, size time.Duration) Assigner {
	return Assigner{Kind: Cumulating, Size: size.Milliseconds(), Slide: step.Milliseconds()}
}
