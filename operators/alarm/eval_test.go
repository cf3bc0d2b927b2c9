package alarm

import (
	"strconv"
	"strings"
	"testing"
)

// TestStateMachine feeds one instance a sequence of periods (a value, or
// "_" for a period without a row), advancing the watermark to the end of
// each, and checks the state changes ("index:STATE", the index of the
// period that caused it).
func TestStateMachine(t *testing.T) {
	const (
		gt  = GreaterThanThreshold
		ge  = GreaterThanOrEqualToThreshold
		lt  = LessThanThreshold
		le  = LessThanOrEqualToThreshold
		mis = Missing
		nb  = NotBreaching
		br  = Breaching
		ign = Ignore
	)
	tests := []struct {
		name  string
		cmp   Comparison
		treat TreatMissing
		n, m  int
		seq   string
		want  string
	}{
		// comparisons, equality at the threshold (90)
		{"gt equal is not breaching", gt, mis, 1, 1, "90 91 90", "0:OK 1:ALARM 2:OK"},
		{"ge equal is breaching", ge, mis, 1, 1, "89 90 89", "0:OK 1:ALARM 2:OK"},
		{"lt equal is not breaching", lt, mis, 1, 1, "90 89 90", "0:OK 1:ALARM 2:OK"},
		{"le equal is breaching", le, mis, 1, 1, "91 90 91", "0:OK 1:ALARM 2:OK"},
		{"gt 2 of 3", gt, mis, 3, 2, "80 95 97 80 80 80", "0:OK 2:ALARM 4:OK"},
		{"ge 2 of 3", ge, mis, 3, 2, "80 90 80 90 80 80", "0:OK 3:ALARM 4:OK"},
		{"lt 2 of 3", lt, mis, 3, 2, "95 89 95 95 89 89", "0:OK 5:ALARM"},
		{"le 3 of 3", le, mis, 3, 3, "95 90 90 90 91", "0:OK 3:ALARM 4:OK"},
		{"3 of 3 needs three", gt, mis, 3, 3, "95 95 80 95 95 95", "0:ALARM 2:OK 5:ALARM"},
		{"1 of 3 alarms on one", gt, nb, 3, 1, "80 95 80 80 80", "0:OK 1:ALARM 4:OK"},
		{"repeated state is no change", gt, mis, 1, 1, "95 95 95", "0:ALARM"},

		// missing: not counted; INSUFFICIENT_DATA when the window is empty
		{"missing empties the window", gt, mis, 3, 3, "80 _ _ _ 80", "0:OK 3:INSUFFICIENT_DATA 4:OK"},
		{"missing fewer than M all breaching", gt, mis, 3, 3, "95 _ _ _", "0:ALARM 3:INSUFFICIENT_DATA"},
		{"missing fewer than M one not breaching", gt, mis, 3, 3, "95 80 _ 95", "0:ALARM 1:OK"},
		{"missing M of the datapoints present", gt, mis, 3, 2, "80 _ 95 95 _ _ _", "0:OK 3:ALARM 6:INSUFFICIENT_DATA"},
		{"missing ALARM to INSUFFICIENT_DATA", gt, mis, 2, 2, "95 95 _ _", "0:ALARM 3:INSUFFICIENT_DATA"},

		// notBreaching: missing periods count as within the threshold
		{"notBreaching", gt, nb, 3, 3, "95 95 95 _ 95 95", "0:OK 2:ALARM 3:OK"},
		{"notBreaching all missing", gt, nb, 2, 1, "95 _ _ _", "0:ALARM 2:OK"},
		{"notBreaching 2 of 3", gt, nb, 3, 2, "95 _ 95 _ _", "0:OK 2:ALARM 3:OK"},

		// breaching: missing periods count as breaching
		{"breaching", gt, br, 3, 3, "95 _ _ 80 80 80 _ _ _", "0:ALARM 3:OK 8:ALARM"},
		{"breaching counts periods before the first", gt, br, 3, 3, "80 95 95 95", "0:OK 3:ALARM"},
		{"breaching 2 of 3", gt, br, 3, 2, "80 80 _ 80 _ 95", "0:ALARM 1:OK 4:ALARM"},

		// ignore: a period without a datapoint keeps the state
		{"ignore keeps ALARM", gt, ign, 3, 2, "95 95 _ _ 80 80", "0:ALARM 4:OK"},
		{"ignore keeps OK", gt, ign, 3, 3, "80 _ _ _ _ _ 95", "0:OK 6:ALARM"},
		{"ignore evaluates present periods", gt, ign, 3, 2, "80 95 _ 95 _ 80", "0:OK 3:ALARM 5:OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Comparison, cfg.TreatMissing = tt.cmp, tt.treat
			cfg.EvaluationPeriods, cfg.DatapointsToAlarm = tt.n, tt.m
			h := newHarness(t, cfg)
			for i, v := range strings.Fields(tt.seq) {
				end := t0 + int64(i)*10*sec
				if v != "_" {
					h.rows(row{"web-1", end, v})
				}
				h.wm(end - 1)
			}
			var got []string
			for _, n := range h.rec.ns {
				got = append(got, strconv.FormatInt((n.Time-t0)/(10*sec), 10)+":"+n.NewState)
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Fatalf("%s with %s, %d of %d, %q: got %q, want %q", tt.cmp, tt.treat, tt.m, tt.n, tt.seq, g, tt.want)
			}
		})
	}
}

// TestCloudWatchTable checks the rows of CloudWatch's table of missing data
// treatment (N = M = 3) that evaluating exactly N periods shares with it,
// and the two that differ (see the package documentation). Each row
// follows three datapoints within the threshold, so the alarm is OK first;
// the state checked is the one the evaluation of its newest period leaves
// ("keep": the state before it).
func TestCloudWatchTable(t *testing.T) {
	rows := []struct {
		points string
		want   [4]string // missing, notBreaching, breaching, ignore
	}{
		{"0 - X - X", [4]string{"ALARM", "OK", "ALARM", "ALARM"}}, // CloudWatch: OK OK OK OK
		{"- - - - 0", [4]string{"OK", "OK", "OK", "OK"}},
		{"- - - - -", [4]string{"INSUFFICIENT_DATA", "OK", "ALARM", "keep"}},
		{"0 X X - X", [4]string{"ALARM", "OK", "ALARM", "ALARM"}}, // CloudWatch: ALARM under notBreaching
		{"- - X - -", [4]string{"ALARM", "OK", "ALARM", "keep"}},
	}
	for _, r := range rows {
		for treat := Missing; treat <= Ignore; treat++ {
			cfg := testConfig()
			cfg.EvaluationPeriods, cfg.DatapointsToAlarm, cfg.TreatMissing = 3, 3, treat
			h := newHarness(t, cfg)
			seq := append([]string{"0", "0", "0"}, strings.Fields(r.points)...)
			before := ""
			for i, p := range seq {
				if len(h.op.insts) > 0 {
					before = h.op.insts[0].state.String()
				}
				end := t0 + int64(i)*10*sec
				switch p {
				case "0":
					h.rows(row{"web-1", end, "50"})
				case "X":
					h.rows(row{"web-1", end, "95"})
				}
				h.wm(end - 1)
			}
			got := h.op.insts[0].state.String()
			want := r.want[treat]
			if want == "keep" {
				want = before
			}
			if got != want {
				t.Errorf("%q under %s: %s, want %s", r.points, treat, got, r.want[treat])
			}
		}
	}
}
