package ratelog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
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

func TestWarnWritesThroughTheLoggerOfEachCall(t *testing.T) {
	var a, b bytes.Buffer
	la := slog.New(slog.NewTextHandler(&a, nil)).With("subtask", 0)
	lb := slog.New(slog.NewTextHandler(&b, nil)).With("subtask", 1)
	l := New(nil, time.Hour)
	l.Warn(la, "shard %s throttled", "s1")
	l.Warn(lb, "shard %s throttled", "s2") // held back: one limit for both
	l.Printf("ignored: no output given to New")
	l.WarnFlush(lb, "warnings")
	if !strings.Contains(a.String(), `level=WARN msg="shard s1 throttled" subtask=0`) {
		t.Fatalf("first logger got %q", a.String())
	}
	if !strings.Contains(b.String(), `level=WARN msg="1 more warnings since the last report" subtask=1`) || strings.Contains(b.String(), "s2") {
		t.Fatalf("second logger got %q", b.String())
	}
}
