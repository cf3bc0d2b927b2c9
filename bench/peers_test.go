package bench

import "testing"

func TestPeersAgree(t *testing.T) {
	w := Workload{Events: 200_000, Keys: 1000, Window: Default.Window}
	loop := RunLoop(w)
	gs := RunGoStreams(w)
	if loop.Check != gs.Check {
		t.Fatalf("loop %v, go-streams %v", loop.Check, gs.Check)
	}
	if loop.Check.Count != w.Events {
		t.Fatalf("loop counted %d events, want %d", loop.Check.Count, w.Events)
	}
	t.Logf("loop %.1fM/s, go-streams %.1fM/s", loop.EventsPerSec()/1e6, gs.EventsPerSec()/1e6)
}
