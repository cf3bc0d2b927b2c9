package print

import (
	"testing"

	"github.com/sluicehq/sluice/connectors"
)

// TestOptionsPickTheStreamAndPrefix: 'standard-error' chooses the stream,
// 'print-identifier' the prefix, and a value that is not true or false is
// an error naming the table and option.
func TestOptionsPickTheStreamAndPrefix(t *testing.T) {
	newSink, _, err := factory{}.NewSink(connectors.Table{Name: "p", Options: map[string]string{"standard-error": "TRUE", "print-identifier": "views"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := newSink().(*sink); s.w != stderr || s.id != "views" {
		t.Errorf("sink writes to %p with id %q, want standard error (%p) and views", s.w, s.id, stderr)
	}
	newSink, _, err = factory{}.NewSink(connectors.Table{Name: "p", Options: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if s := newSink().(*sink); s.w != stdout || s.id != "" {
		t.Errorf("default sink writes to %p with id %q, want standard output (%p) and no id", s.w, s.id, stdout)
	}
	_, _, err = factory{}.NewSink(connectors.Table{Name: "p", Options: map[string]string{"standard-error": "maybe"}})
	if want := `table p: option "standard-error": "maybe" is not true or false`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
