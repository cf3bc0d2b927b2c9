package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestDemoRaisesAnAlarm: the demo (1-second periods, so that it is quick)
// prints an ALARM notification for a spiking host of the fleet, and its
// OK when the spike is over, and stops cleanly at --duration.
func TestDemoRaisesAnAlarm(t *testing.T) {
	cmd := exec.Command(binary, "demo", "--period", "1s", "--duration", "20s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr.String())
	}
	text := string(out)
	if !strings.Contains(text, `[ops] ALARM: "HighCPU"`) || !strings.Contains(text, `"NewStateValue": "ALARM"`) ||
		!strings.Contains(text, `were greater than the threshold (90.0)`) {
		t.Fatalf("no ALARM notification:\n%s\n%s", text, stderr.String())
	}
	if !strings.Contains(stderr.String(), "host(s) in ALARM") {
		t.Fatalf("no status line:\n%s", stderr.String())
	}
}
