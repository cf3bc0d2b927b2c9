package kafka

import "testing"

// FuzzSpecificOffsets: the parser of 'scan.startup.specific-offsets' never
// panics, and what it accepts has no negative offset.
func FuzzSpecificOffsets(f *testing.F) {
	for _, s := range []string{"partition:0,offset:42;partition:1,offset:300", "partition:0,offset:1;", ";;", "partition:-1,offset:0",
		"offset:5,partition:2", "partition:99999999999,offset:1", "partition:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseSpecific(s)
		if err != nil {
			return
		}
		for p, o := range m {
			if p < 0 || o < 0 {
				t.Fatalf("%q: partition %d offset %d", s, p, o)
			}
		}
	})
}
