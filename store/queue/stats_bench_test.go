package queue

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkStats is the cost of the queue metrics of one scrape for a
// queue of 100,000 messages, a tenth of them in flight.
func BenchmarkStats(b *testing.B) {
	s, err := Open(b.TempDir(), Options{NoSync: true, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	q, err := s.Create("q", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	in := make([]SendInput, 1000)
	for i := range 100 {
		for j := range in {
			in[j] = SendInput{Body: "message " + strconv.Itoa(i*1000+j)}
		}
		if _, err := q.Send(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	for range 1000 {
		if _, err := q.Receive(ctx, ReceiveOptions{Max: 10}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		st, err := q.Stats()
		if err != nil || st.InFlight != 10_000 || st.Visible != 90_000 {
			b.Fatalf("%+v %v", st, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/scrape")
}
