package ratelog

import (
	"fmt"
	"testing"
	"time"
)

func TestHeldBackLinesAreCountedInTheNext(t *testing.T) {
	var got []string
	l := New(func(m string) { got = append(got, m) }, time.Hour)
	for i := range 4 {
		l.Printf("warning %d", i)
	}
	l.Flush("warnings")
	l.Flush("warnings")
	want := []string{"warning 0", "3 more warnings since the last report"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	l.last = time.Now().Add(-2 * time.Hour)
	l.Printf("a")
	l.Printf("b")
	l.last = time.Now().Add(-2 * time.Hour)
	l.Printf("c")
	if got := got[2:]; fmt.Sprint(got) != fmt.Sprint([]string{"a", "c (and 1 more since the last report)"}) {
		t.Fatalf("got %q", got)
	}
}
