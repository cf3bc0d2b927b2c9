package cks3

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestParseURLNamesWhatIsWrong: s3://bucket/prefix splits into its parts;
// anything else is an error quoting it.
func TestParseURLNamesWhatIsWrong(t *testing.T) {
	f := func(u, bucket, prefix, bad string) {
		t.Helper()
		b, p, err := ParseURL(u)
		if bad != "" {
			if err == nil || !strings.Contains(err.Error(), bad) {
				t.Fatalf("%q: %v, want an error with %q", u, err, bad)
			}
			return
		}
		if err != nil || b != bucket || p != prefix {
			t.Fatalf("%q: %q %q %v, want %q %q", u, b, p, err, bucket, prefix)
		}
	}
	f("s3://ck/jobs/clicks/", "ck", "jobs/clicks", "")
	f("s3://ck", "ck", "", "")
	f("s3:///clicks", "", "", "names no bucket")
	f("file:///tmp/ck", "", "", "is not an s3://bucket/prefix URL")
}

// TestStoreKeepsToItsPrefix: names are relative to the prefix; List and
// Delete see only the prefix's objects; Get of a missing object is
// fs.ErrNotExist.
func TestStoreKeepsToItsPrefix(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/ckpt", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx := context.Background()
	open := func(u string) *Store {
		s, err := Open(ctx, u, Options{Endpoint: strings.TrimPrefix(srv.URL, "http://")})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open("s3://ckpt/a"), open("s3://ckpt/ab")
	for _, n := range []string{"chk-000001/state.bin", "chk-000001/_manifest.json", "chk-000002/state.bin"} {
		if err := a.Put(ctx, n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Put(ctx, "chk-000001/state.bin", []byte("other")); err != nil {
		t.Fatal(err)
	}
	names, err := a.List(ctx, "chk-")
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"chk-000001/_manifest.json", "chk-000001/state.bin", "chk-000002/state.bin"}) {
		t.Fatalf("List: %q, %v", names, err)
	}
	if err := a.Delete(ctx, "chk-000001/"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "chk-000001/state.bin"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "s3://ckpt/a/chk-000001/state.bin") {
		t.Fatalf("Get after Delete: %v", err)
	}
	if data, err := b.Get(ctx, "chk-000001/state.bin"); err != nil || string(data) != "other" {
		t.Fatalf("the other prefix: %q, %v", data, err)
	}
	if got := a.Location(""); got != "s3://ckpt/a" {
		t.Fatalf("Location: %q", got)
	}
}
