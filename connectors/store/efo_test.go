package store

import (
	"strings"
	"testing"
)

// TestEFOOptions: the fan-out options are Flink's, checked as the other
// options are — unknown values and misplaced options are errors naming the
// option.
func TestEFOOptions(t *testing.T) {
	f := func(opts map[string]string, want string) {
		t.Helper()
		_, _, err := connector(t).NewSource(table(opts))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("NewSource(%v) = %v, want an error with %q", opts, err, want)
		}
	}
	ok := func(extra ...string) map[string]string {
		m := map[string]string{"stream": "s", "endpoint": "http://127.0.0.1:4567"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	f(ok("scan.stream.recordpublisher", "FANOUT"), `option "scan.stream.recordpublisher": "FANOUT" is not one of POLLING, EFO`)
	f(ok("scan.stream.recordpublisher", "EFO"), `option "scan.stream.recordpublisher" = 'EFO' needs option "scan.stream.efo.consumername"`)
	f(ok("scan.stream.efo.consumername", "c"), `option "scan.stream.efo.consumername" is only used with 'scan.stream.recordpublisher' = 'EFO'`)
	f(ok("scan.stream.recordpublisher", "EFO", "scan.stream.efo.consumername", "c", "scan.stream.efo.registration", "LATER"),
		`option "scan.stream.efo.registration": "LATER" is not one of LAZY, EAGER, NONE`)
	f(ok("scan.stream.recordpublisher", "EFO", "scan.stream.efo.consumername", "a b"), `option "scan.stream.efo.consumername": "a b" is not a consumer name`)
	f(ok("scan.stream.recordpublisher", "efo", "scan.stream.efo.consumername", strings.Repeat("x", 129)), `option "scan.stream.efo.consumername"`)
	// Values in any case; LAZY registers only when the job starts.
	if _, _, err := connector(t).NewSource(table(ok("scan.stream.recordpublisher", "efo", "scan.stream.efo.consumername", "job-1.a_b"))); err != nil {
		t.Fatal(err)
	}
}
