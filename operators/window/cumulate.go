package window

import "time"

// Cumulate returns cumulating windows, as Flink's CUMULATE table function:
// windows of the largest size size start every size (plus Offset), and
// each is reported at every step as it grows: [start, start+step),
// [start, start+2·step), …, [start, start+size). A row belongs to every
// window of its period that ends after it; each fires when the watermark
// passes its end. size must be a multiple of step.
func Cumulate(step, size time.Duration) Assigner {
	return Assigner{Kind: Cumulating, Size: size.Milliseconds(), Slide: step.Milliseconds()}
}
