package vehicles_test

import (
	"context"
	"math"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// FuzzOptions: any option values are refused with an error or give a
// source whose rows stay in the box; none panics.
func FuzzOptions(f *testing.F) {
	f.Add("13.088,52.338,13.761,52.675", "1 s", "10", "50", "0.2", "2 min", "5")
	f.Add("-180,-85,180,85", "1ms", "0", "1000", "1", "0", "1")
	f.Add("1,1,1.0000001,1.0000001", "1 d", "0", "0.001", "0", "1 d", "3")
	f.Add("x", "-1", "NaN", "Inf", "2", "-1 s", "0")
	f.Fuzz(func(t *testing.T, bbox, interval, smin, smax, stopP, stopMax, n string) {
		o := opts("bbox", bbox, "interval", interval, "speed.min", smin, "speed.max", smax,
			"stop.probability", stopP, "stop.max", stopMax, "vehicles", n, "number-of-rows", "5000")
		newSrc, err := newSource(t, all, o)
		if err != nil {
			return
		}
		src := newSrc()
		if err := src.Open(&runtime.Context{Subtask: 0, Parallelism: 2}); err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		for range 3 {
			b, _, err := src.Poll(context.Background())
			if err != nil {
				return
			}
			for i := range b.Len() {
				if lat, lon := b.Cols[cLat].F64[i], b.Cols[cLon].F64[i]; math.IsNaN(lat) || math.IsNaN(lon) {
					t.Fatalf("NaN position with %v", o)
				}
			}
		}
	})
}
