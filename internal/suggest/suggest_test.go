package suggest

import "testing"

func TestNearestFindsTyposAndIgnoresStrangers(t *testing.T) {
	names := []string{"page_id", "user_id", "event_time"}
	for _, c := range []struct{ in, want string }{
		{"pgae_id", "page_id"}, // swapped letters
		{"PAGE_ID", "page_id"}, // case
		{"usr_id", "user_id"},  // a missing letter
		{"eventtime", "event_time"},
		{"ingest_ts", ""}, // nothing close
	} {
		if got := Nearest(c.in, names); got != c.want {
			t.Errorf("Nearest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEditDistanceCountsSwapsAsOne(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"abc", "ab", 1}, {"kitten", "sitting", 3}} {
		if got := EditDistance(c.a, c.b); got != c.d {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

func TestHintQuotesTheNearestOrSaysNothing(t *testing.T) {
	if got := Hint("pgae_id", []string{"page_id", "user_id"}); got != ` (did you mean "page_id"?)` {
		t.Errorf("Hint = %q", got)
	}
	if got := Hint("ingest_ts", []string{"page_id"}); got != "" {
		t.Errorf("Hint of a stranger = %q, want nothing", got)
	}
}
