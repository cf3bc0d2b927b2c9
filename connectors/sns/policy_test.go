package sns

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseDeliveryPolicy(t *testing.T) {
	f := func(in string, want retryPolicy) {
		t.Helper()
		got, err := parseDeliveryPolicy(in)
		if err != nil {
			t.Fatalf("parseDeliveryPolicy(%s): %v", in, err)
		}
		if got != want {
			t.Errorf("parseDeliveryPolicy(%s)\n got %+v\nwant %+v", in, got, want)
		}
	}
	def := retryPolicy{NumRetries: 3, MinDelayTarget: 20, MaxDelayTarget: 20, BackoffFunction: "linear"}
	f("", def)
	f("  ", def)
	f("{}", def)
	f(`{"healthyRetryPolicy": null}`, def)
	f(`{"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 60, "numRetries": 50, "numMaxDelayRetries": 20,
		"numNoDelayRetries": 3, "numMinDelayRetries": 2, "backoffFunction": "EXPONENTIAL"},
	  "throttlePolicy": {"maxReceivesPerSecond": 10},
	  "requestPolicy": {"headerContentType": "application/json"},
	  "sicklyRetryPolicy": null, "guaranteed": false}`,
		retryPolicy{NumRetries: 50, NumNoDelayRetries: 3, NumMinDelayRetries: 2, NumMaxDelayRetries: 20,
			MinDelayTarget: 1, MaxDelayTarget: 60, BackoffFunction: "exponential", MaxReceivesPerSecond: 10,
			ContentType: "application/json"})
	f(`{"healthyRetryPolicy": {"numRetries": 0}}`, retryPolicy{MinDelayTarget: 20, MaxDelayTarget: 20, BackoffFunction: "linear"})
	f(`{"healthyRetryPolicy": {"numRetries": 2.0, "backoffFunction": "geometric"}}`,
		retryPolicy{NumRetries: 2, MinDelayTarget: 20, MaxDelayTarget: 20, BackoffFunction: "geometric"})
}

func TestParseDeliveryPolicyErrors(t *testing.T) {
	f := func(in, field, msg string) {
		t.Helper()
		_, err := parseDeliveryPolicy(in)
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Errorf("parseDeliveryPolicy(%s): %v, want a *PolicyError", in, err)
			return
		}
		if pe.Field != field || !strings.Contains(pe.Msg, msg) {
			t.Errorf("parseDeliveryPolicy(%s): field %q, %q; want field %q, %q", in, pe.Field, pe.Msg, field, msg)
		}
	}
	h := func(inner string) string { return `{"healthyRetryPolicy": {` + inner + `}}` }
	f(`{`, "", "not a JSON object")
	f(`[]`, "", "not a JSON object")
	f(`{} {}`, "", "trailing")
	f(`{"healthyRetryPolicy": 3}`, "healthyRetryPolicy", "not a JSON object")
	f(`{"retryPolicy": {}}`, "retryPolicy", "unknown key")
	f(h(`"numRetries": 101`), "healthyRetryPolicy.numRetries", "more than 100")
	f(h(`"numRetries": -1`), "healthyRetryPolicy.numRetries", "out of range")
	f(h(`"numRetries": 1.5`), "healthyRetryPolicy.numRetries", "not a whole number")
	f(h(`"numRetries": "3"`), "healthyRetryPolicy.numRetries", "not a whole number")
	f(h(`"numRetries": null`), "healthyRetryPolicy.numRetries", "not a whole number")
	f(h(`"minDelayTarget": 0`), "healthyRetryPolicy.minDelayTarget", "at least 1")
	f(h(`"minDelayTarget": 30`), "healthyRetryPolicy.minDelayTarget", "more than maxDelayTarget 20")
	f(h(`"maxDelayTarget": 3601`), "healthyRetryPolicy.maxDelayTarget", "more than 3600")
	f(h(`"numRetries": 3, "numNoDelayRetries": 2, "numMaxDelayRetries": 2`), "healthyRetryPolicy.numRetries", "less than")
	f(h(`"backoffFunction": "cubic"`), "healthyRetryPolicy.backoffFunction", "not linear")
	f(h(`"backoffFunction": 1`), "healthyRetryPolicy.backoffFunction", "not a string")
	f(h(`"numRetry": 1`), "healthyRetryPolicy.numRetry", "unknown key")
	f(h(`"numRetries": 100, "minDelayTarget": 60, "maxDelayTarget": 60`), "healthyRetryPolicy", "more than SNS's limit")
	f(`{"throttlePolicy": {"maxReceivesPerSecond": 0}}`, "throttlePolicy.maxReceivesPerSecond", "out of range")
	f(`{"throttlePolicy": {"maxReceives": 1}}`, "throttlePolicy.maxReceives", "unknown key")
	f(`{"requestPolicy": {"headerContentType": "json"}}`, "requestPolicy.headerContentType", "not a media type")
}

func TestBackoffSchedule(t *testing.T) {
	f := func(p retryPolicy, want ...float64) {
		t.Helper()
		got := p.delays()
		if len(got) != len(want) {
			t.Fatalf("%+v: delays %v, want %v", p, got, want)
		}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-9 {
				t.Fatalf("%+v: delays %v, want %v", p, got, want)
			}
		}
	}
	// SNS's default: three retries, 20 s apart.
	f(defaultPolicy(), 20, 20, 20)
	f(retryPolicy{MinDelayTarget: 5, MaxDelayTarget: 5, BackoffFunction: "linear"})
	// The four phases in turn: 2 immediate, 1 at the minimum, 4 rising
	// from the minimum to the maximum, 2 at the maximum.
	f(retryPolicy{NumRetries: 9, NumNoDelayRetries: 2, NumMinDelayRetries: 1, NumMaxDelayRetries: 2,
		MinDelayTarget: 1, MaxDelayTarget: 10, BackoffFunction: "linear"},
		0, 0, 1, 1, 4, 7, 10, 10, 10)
	// The backoff functions over the same phase (min 1, max 17, 5 retries).
	p := retryPolicy{NumRetries: 5, MinDelayTarget: 1, MaxDelayTarget: 17}
	p.BackoffFunction = "linear"
	f(p, 1, 5, 9, 13, 17)
	p.BackoffFunction = "arithmetic"
	f(p, 1, 2, 5, 10, 17)
	p.BackoffFunction = "geometric"
	g := math.Pow(17, 0.25)
	f(p, 1, g, g*g, g*g*g, 17)
	p.BackoffFunction = "exponential"
	e := func(x float64) float64 { return 1 + 16*(math.Exp2(10*x)-1)/1023 }
	f(p, 1, e(0.25), e(0.5), e(0.75), 17)
	// One backoff retry waits the minimum.
	f(retryPolicy{NumRetries: 2, NumMaxDelayRetries: 1, MinDelayTarget: 3, MaxDelayTarget: 9, BackoffFunction: "exponential"}, 3, 9)
	// Every function rises from min to max without going back.
	for _, fn := range []string{"linear", "arithmetic", "geometric", "exponential"} {
		d := retryPolicy{NumRetries: 20, MinDelayTarget: 2, MaxDelayTarget: 100, BackoffFunction: fn}.delays()
		for i := 1; i < len(d); i++ {
			if d[i] < d[i-1] {
				t.Errorf("%s: delays %v go down", fn, d)
			}
		}
		if d[0] != 2 || math.Abs(d[19]-100) > 1e-9 {
			t.Errorf("%s: delays %v do not go from 2 to 100", fn, d)
		}
	}
	// schedule scales by the unit.
	got := fmt.Sprint(retryPolicy{NumRetries: 3, NumNoDelayRetries: 1, MinDelayTarget: 2, MaxDelayTarget: 4, BackoffFunction: "linear"}.schedule(time.Millisecond))
	if got != "[0s 2ms 4ms]" {
		t.Errorf("schedule %s", got)
	}
}

func FuzzDeliveryPolicy(f *testing.F) {
	for _, s := range []string{
		"", "{}", `{"healthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1, "maxDelayTarget": 9, "backoffFunction": "geometric"}}`,
		`{"healthyRetryPolicy": {"numRetries": 100, "numNoDelayRetries": 100}}`, `{"throttlePolicy": {"maxReceivesPerSecond": 1e3}}`,
		`{"healthyRetryPolicy": {"numRetries": 1e300}}`, `{"requestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseDeliveryPolicy(s)
		if err != nil {
			return
		}
		d := p.delays()
		if len(d) != p.NumRetries {
			t.Fatalf("%d delays for %d retries", len(d), p.NumRetries)
		}
		total := 0.0
		for _, x := range d {
			if x < 0 || x > float64(p.MaxDelayTarget) || math.IsNaN(x) {
				t.Fatalf("delay %v out of [0, %d]", x, p.MaxDelayTarget)
			}
			total += x
		}
		if total > maxPolicyDelay {
			t.Fatalf("total delay %v", total)
		}
	})
}
