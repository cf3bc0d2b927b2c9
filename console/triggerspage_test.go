package console

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/browsertest"
)

// growingTriggers lists two triggers whose counters grow by one batch of
// 10 records on every call: one on a stream, one on a queue that has
// failed a batch.
func growingTriggers() func() []TriggerStatus {
	var calls atomic.Int64
	return func() []TriggerStatus {
		n := calls.Add(1)
		visible, inFlight := 40-n%10, int64(10)
		return []TriggerStatus{
			{Name: "to_billing", Source: "queue jobs", Function: "http://127.0.0.1:9/fn", State: "running",
				Invocations: 100 * n, Records: 1000 * n, Errors: 3, Throttles: 1, FailedBatches: 2, IteratorAgeMs: 1500,
				Visible: &visible, InFlight: &inFlight, LastError: "function answered 500: boom", LastErrorAt: time.Now()},
			{Name: "audit", Source: "stream orders", Function: "./audit.sh", State: "running",
				Invocations: 10 * n, Records: 100 * n, IteratorAgeMs: -1},
		}
	}
}

func TestTriggersAPIListsEveryTriggerByName(t *testing.T) {
	s, err := Start(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func() []map[string]any {
		t.Helper()
		resp, err := http.Get(s.URL() + "api/v1/triggers")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct{ Triggers []map[string]any }
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v.Triggers
	}
	if got := get(); got == nil || len(got) != 0 {
		t.Fatalf("triggers of a console without any = %v, want []", got)
	}
	s.AddTriggers(growingTriggers())
	got := get()
	if len(got) != 2 || got[0]["name"] != "audit" || got[1]["name"] != "to_billing" {
		t.Fatalf("triggers = %v", got)
	}
	if _, ok := got[0]["visible"]; ok {
		t.Errorf("a stream's trigger has a queue's visible count: %v", got[0])
	}
	if got[1]["visible"] == nil || got[1]["in_flight"] != float64(10) || got[1]["last_error"] != "function answered 500: boom" {
		t.Errorf("the queue's trigger = %v", got[1])
	}
}

func TestTriggersPageShowsFiguresAndRates(t *testing.T) {
	s, err := Start(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := browsertest.New(t, 1400, 500)
	b.Navigate(s.URL() + "triggers")
	b.WaitFor("the empty message", `!document.getElementById('empty').hidden`, 10*time.Second)

	s.AddTriggers(growingTriggers())
	b.WaitFor("two rows", `document.querySelectorAll('#trigger-rows tr').length === 2`, 10*time.Second)
	// The rates need two answers; the page asks every second.
	b.WaitFor("a rate", `document.querySelector('[data-trigger="to_billing"] [data-k="invocations_per_s"]').textContent !== '–'`, 10*time.Second)
	cell := func(trigger, k string) string {
		t.Helper()
		return evalT[string](t, b, `document.querySelector('[data-trigger="`+trigger+`"] [data-k="`+k+`"]').textContent`)
	}
	class := func(trigger, k string) string {
		t.Helper()
		return evalT[string](t, b, `document.querySelector('[data-trigger="`+trigger+`"] [data-k="`+k+`"]').className`)
	}
	if got := evalT[[]string](t, b, `Array.from(document.querySelectorAll('#trigger-rows tr'), r => r.dataset.trigger)`); len(got) != 2 || got[0] != "audit" {
		t.Errorf("rows = %v, want audit first", got)
	}
	// 100 invocations and 1,000 records a call, about one call a second.
	for k, lo := range map[string]float64{"invocations_per_s": 20, "records_per_s": 200} {
		v := cell("to_billing", k)
		var x float64
		if err := json.Unmarshal([]byte(trimUnit(v)), &x); err != nil || x*unitOf(v) < lo {
			t.Errorf("%s = %q, want at least %v", k, v, lo)
		}
	}
	for k, want := range map[string]string{"source": "queue jobs", "errors": "3", "failed_batches": "2", "in_flight": "10",
		"iterator_age": "1.5 s", "last_error": "function answered 500: boom", "state": "running"} {
		if got := cell("to_billing", k); got != want {
			t.Errorf("to_billing %s = %q, want %q", k, got, want)
		}
	}
	if c := class("to_billing", "errors"); c != "num bad" {
		t.Errorf("errors cell class = %q", c)
	}
	for k, want := range map[string]string{"visible": "–", "in_flight": "–", "iterator_age": "–", "errors": "0"} {
		if got := cell("audit", k); got != want {
			t.Errorf("audit %s = %q, want %q", k, got, want)
		}
	}
	if !evalT[bool](t, b, `document.getElementById('empty').hidden`) {
		t.Error("the empty message is still shown")
	}
	b.Screenshot("triggers")
	b.NoProblems()
}

// trimUnit and unitOf read sluice.fmt's "1.2k" back.
func trimUnit(s string) string {
	if n := len(s); n > 0 && (s[n-1] == 'k' || s[n-1] == 'M' || s[n-1] == 'G') {
		return s[:n-1]
	}
	return s
}

func unitOf(s string) float64 {
	if s == "" {
		return 1
	}
	switch s[len(s)-1] {
	case 'k':
		return 1e3
	case 'M':
		return 1e6
	case 'G':
		return 1e9
	}
	return 1
}
