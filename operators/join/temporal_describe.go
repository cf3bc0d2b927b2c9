package join

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// Describe implementations (runtime.Describer) for plans.

var (
	_ runtime.Describer = (*tjEvent)(nil)
	_ runtime.Describer = (*tjProc)(nil)
	_ runtime.Describer = (*wjOp)(nil)
)

// tjKeyPairs prints "l1 = r1, l2 = r2".
func tjKeyPairs(l, r *runtime.Schema, lk, rk []int) string {
	if len(lk) == 0 {
		return "no keys"
	}
	parts := make([]string, len(lk))
	for i := range lk {
		parts[i] = l.Fields[lk[i]].Name + " = " + r.Fields[rk[i]].Name
	}
	return strings.Join(parts, ", ")
}

func tjKind(left, right bool) string {
	switch {
	case left && right:
		return "FULL"
	case left:
		return "LEFT"
	case right:
		return "RIGHT"
	}
	return "INNER"
}

// tjLimits prints the state bounds.
func tjLimits(b *strings.Builder, ttl time.Duration, maxGroups int, what string) {
	if ttl > 0 {
		fmt.Fprintf(b, ", TTL %v in processing time ('table.exec.state.ttl')", ttl)
	}
	if maxGroups > 0 {
		fmt.Fprintf(b, "; at most %d %s per subtask ('sluice.state.max-keys')", maxGroups, what)
	}
}

// Describe says what the operator does and keeps.
func (o *tjEvent) Describe() string {
	s := o.spec
	var b strings.Builder
	fmt.Fprintf(&b, "event-time temporal join: %s, FOR SYSTEM_TIME AS OF %s, on %s; an append-only result in %s order\n",
		tjKind(s.LeftOuter, false), s.Probe.Fields[s.ProbeTime].Name, tjKeyPairs(s.Probe, s.Versioned, s.ProbeKeys, s.VersionKeys),
		s.Probe.Fields[s.ProbeTime].Name)
	b.WriteString("state: probe rows ahead of the watermark; per key the version valid at the watermark and the later changes")
	tjLimits(&b, s.TTL, s.MaxGroups, "keys")
	return b.String()
}

// Describe says what the operator does and keeps.
func (o *tjProc) Describe() string {
	s := o.spec
	var b strings.Builder
	fmt.Fprintf(&b, "processing-time temporal join: %s, on %s; an append-only result\n",
		tjKind(s.LeftOuter, false), tjKeyPairs(s.Probe, s.Build, s.ProbeKeys, s.BuildKeys))
	b.WriteString("state: the current build row per key")
	tjLimits(&b, s.TTL, s.MaxGroups, "keys")
	if s.BuildFirst {
		fmt.Fprintf(&b, "; probe rows held back until the build side has ended, at most %d", s.MaxBufferedProbe)
	}
	return b.String()
}

// Describe says what the operator does and keeps.
func (o *wjOp) Describe() string {
	s := o.spec
	var b strings.Builder
	fmt.Fprintf(&b, "window join: %s, on window (%s, %s) and %s; an append-only result when the watermark passes a window\n",
		tjKind(s.LeftOuter, s.RightOuter), s.Left.Fields[s.LeftWindowStart].Name, s.Left.Fields[s.LeftWindowEnd].Name,
		tjKeyPairs(s.Left, s.Right, s.LeftKeys, s.RightKeys))
	b.WriteString("state: the rows of the windows not yet fired")
	tjLimits(&b, 0, s.MaxGroups, "(window, key) pairs")
	return b.String()
}
