package group

import (
	"testing"
	"time"
)

// BenchmarkRebalanceAfterMemberDeath measures the time from a member's
// death (its connections cut, no LeaveGroup) until the other two members of
// a 12-partition group own all partitions again, with a 1.2 s session
// timeout. Run with -benchtime=3x: an iteration takes about 2 s.
func BenchmarkRebalanceAfterMemberDeath(b *testing.B) {
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		addr := startCluster(b, twelve)
		var owners []*owner
		var cables []*cable
		for range 3 {
			c := &cable{}
			cables = append(cables, c)
			owners = append(owners, joinOwned(b, Config{Brokers: []string{addr}, GroupID: "g", Topics: []string{"clicks"}, Dial: c.dial}))
		}
		settled(b, owners, twelve, 15*time.Second)
		b.StartTimer()
		cables[2].Cut()
		total += settled(b, owners[:2], twelve, testSession+testRebalance+2*time.Second)
		b.StopTimer()
		for _, o := range owners {
			o.Close()
		}
		b.StartTimer()
	}
	ms := float64(total.Milliseconds()) / float64(b.N)
	b.ReportMetric(ms, "rebalance-ms")
	b.ReportMetric(ms-float64(testSession.Milliseconds()), "over-session-ms")
}
