package sql

import (
	"strings"
	"testing"
)

// TestSetStateTTLOutOfRangeNamesTheRange: a negative or too large
// 'table.exec.state.ttl' is refused naming the value and the range.
func TestSetStateTTLOutOfRangeNamesTheRange(t *testing.T) {
	for value, want := range map[string]string{
		"-1 s":          `SET 'table.exec.state.ttl': "-1 s" must be at least 0`,
		"99999999999 d": `SET 'table.exec.state.ttl': "99999999999 d" must be at most 2562047h47m16.854775807s`,
	} {
		_, err := Compile("SET 'table.exec.state.ttl' = '"+value+"';", Options{File: "job.sql", Parallelism: 1})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", value, err, want)
		}
	}
}
