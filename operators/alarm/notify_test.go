package alarm

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNotificationGolden(t *testing.T) {
	h := newHarness(t, testConfig())
	h.rows(row{"web-1", t0 - 10*sec, "80"}, row{"web-1", t0, "95"}, row{"web-1", t0 + 10*sec, "97"})
	h.wm(t0 + 10*sec - 1)
	h.wm(t0 + 40*sec - 1) // three periods without a row

	wantReasons := []string{
		"Threshold Crossed: 1 out of the last 3 datapoints [80.0 (25/11/26 09:59:50)] was not greater than the threshold (90.0) (minimum 2 datapoints for INSUFFICIENT_DATA -> OK transition).",
		"Threshold Crossed: 2 out of the last 3 datapoints [97.0 (25/11/26 10:00:10), 95.0 (25/11/26 10:00:00)] were greater than the threshold (90.0) (minimum 2 datapoints for OK -> ALARM transition).",
		"Insufficient Data: 0 datapoints were received for 3 periods and 3 missing datapoints were treated as [Missing].",
	}
	if len(h.rec.ns) != len(wantReasons) {
		t.Fatalf("%d notifications %v, want %d", len(h.rec.ns), h.changes(), len(wantReasons))
	}
	for i, n := range h.rec.ns {
		if n.Reason != wantReasons[i] {
			t.Errorf("reason %d:\n got %s\nwant %s", i, n.Reason, wantReasons[i])
		}
		if !json.Valid([]byte(n.Body)) {
			t.Errorf("body %d is not JSON: %s", i, n.Body)
		}
	}
	n := h.rec.ns[1]
	if n.AlarmName != "cpu-high" || n.OldState != "OK" || n.NewState != "ALARM" || n.Time != t0+10*sec || n.Dimensions["host"] != "web-1" {
		t.Errorf("notification %+v", n)
	}
	const wantBody = `{"AlarmName":"cpu-high","AlarmDescription":"CPU above 90% on a host","AWSAccountId":"000000000000",` +
		`"NewStateValue":"ALARM","NewStateReason":"Threshold Crossed: 2 out of the last 3 datapoints [97.0 (25/11/26 10:00:10), 95.0 (25/11/26 10:00:00)] were greater than the threshold (90.0) (minimum 2 datapoints for OK -> ALARM transition).",` +
		`"StateChangeTime":"2026-11-25T10:00:10.000Z","Region":"us-east-1","AlarmArn":"arn:aws:cloudwatch:us-east-1:000000000000:alarm:cpu-high",` +
		`"OldStateValue":"OK","Dimensions":{"host":"web-1"},` +
		`"Trigger":{"MetricName":"cpu","Namespace":"Sluice","StatisticType":"Statistic","Statistic":"","Unit":null,` +
		`"Dimensions":[{"name":"host","value":"web-1"}],"Period":10,"EvaluationPeriods":3,"DatapointsToAlarm":2,` +
		`"ComparisonOperator":"GreaterThanThreshold","Threshold":90.0,"TreatMissingData":"missing","EvaluateLowSampleCountPercentile":""}}`
	if n.Body != wantBody {
		t.Errorf("body\n got %s\nwant %s", n.Body, wantBody)
	}
}

func TestReasonWording(t *testing.T) {
	f := func(cfg Config, rows []row, wm int64, want string) {
		t.Helper()
		h := newHarness(t, cfg)
		h.rows(rows...)
		h.wm(wm)
		if len(h.rec.ns) == 0 {
			t.Fatalf("no notification")
		}
		if got := h.rec.ns[len(h.rec.ns)-1].Reason; got != want {
			t.Fatalf("reason\n got %s\nwant %s", got, want)
		}
	}
	one := testConfig()
	one.EvaluationPeriods, one.DatapointsToAlarm, one.Comparison, one.Threshold = 1, 1, LessThanOrEqualToThreshold, 0.5
	f(one, []row{{"web-1", t0, "0.25"}}, t0-1,
		"Threshold Crossed: 1 datapoint [0.25 (25/11/26 10:00:00)] was less than or equal to the threshold (0.5).")
	f(one, []row{{"web-1", t0, "7"}}, t0-1,
		"Threshold Crossed: 1 datapoint [7.0 (25/11/26 10:00:00)] was not less than or equal to the threshold (0.5).")

	br := testConfig()
	br.TreatMissing, br.Comparison = Breaching, GreaterThanOrEqualToThreshold
	f(br, []row{{"web-1", t0, "90"}}, t0-1,
		"Threshold Crossed: 1 out of the last 3 datapoints [90.0 (25/11/26 10:00:00)] was greater than or equal to the threshold (90.0) and 2 missing datapoints were treated as [Breaching] (minimum 2 datapoints for INSUFFICIENT_DATA -> ALARM transition).")
	f(br, []row{{"web-1", t0, "1"}}, t0-1,
		"Threshold Crossed: 2 missing datapoints were treated as [Breaching] (minimum 2 datapoints for INSUFFICIENT_DATA -> ALARM transition).")
	br.DatapointsToAlarm = 3
	f(br, []row{{"web-1", t0, "1"}}, t0+30*sec-1,
		"Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [Breaching].")

	nb := testConfig()
	nb.TreatMissing, nb.Comparison = NotBreaching, LessThanThreshold
	f(nb, []row{{"web-1", t0, "95"}, {"web-1", t0 + 10*sec, "10"}}, t0+10*sec-1,
		"Threshold Crossed: 1 out of the last 3 datapoints [95.0 (25/11/26 10:00:00)] was not less than the threshold (90.0) and 2 missing datapoints were treated as [NotBreaching] (minimum 2 datapoints for INSUFFICIENT_DATA -> OK transition).")
}

func TestJSONString(t *testing.T) {
	for _, s := range []string{"", "web-1", `a"b\c`, "line\nbreak\ttab\r\x01\x1f", "héllo ✓", "bad \xff byte", "<&>"} {
		got := jsonString(s)
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("jsonString(%q) = %s: %v", s, got, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Errorf("jsonString(%q) = %s, reads back as %q", s, got, back)
		}
	}
}
