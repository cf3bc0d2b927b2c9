package delivery

import (
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// FuzzPrefix: any prefix either is refused or evaluates without panicking,
// to a key that never climbs out of the destination.
func FuzzPrefix(f *testing.F) {
	for _, s := range []string{"", "logs/", "logs/!{timestamp:yyyy}/!{timestamp:MM}/", "!{partitionKeyFromQuery:name}/",
		"!{timestamp:'y='yyyy}", "!{firehose:random-string}", "!{", "!{timestamp:}", "a/../b", "!{partitionKeyFromQuery:n}/x"} {
		f.Add(s, "value")
	}
	f.Fuzz(func(t *testing.T, prefix, value string) {
		p, err := parsePrefix(prefix, schema, false)
		if err != nil {
			return
		}
		r := row(1)
		r[1] = runtime.StringValue(value)
		key, err := p.eval(nil, rttest.NewBatch(schema, r), 0, t0, "")
		if err != nil {
			return
		}
		store := &fileStore{root: "/root"}
		if _, err := store.path(string(key) + "x"); err != nil && len(key) > 0 && key[0] != '/' {
			t.Fatalf("prefix %q, value %q: key %q: %v", prefix, value, key, err)
		}
	})
}
