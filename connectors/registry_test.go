package connectors

import (
	"strings"
	"testing"
	"time"
)

type fake struct{}

func (fake) Name() string { return "fake" }
func (fake) Options() []Option {
	return []Option{{Key: "path", Required: true, Doc: "where"}, {Key: "format"}, {Key: "fields.<f>.kind"}}
}

func TestCheckOptions(t *testing.T) {
	f := func(opts map[string]string, want string) {
		t.Helper()
		err := CheckOptions(fake{}, opts)
		if want == "" {
			if err != nil {
				t.Fatalf("%v: %v", opts, err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: got %v, want %q", opts, err, want)
		}
	}
	f(map[string]string{"connector": "fake", "path": "/x", "fields.a.kind": "random"}, "")
	f(map[string]string{"path": "/x", "fromat": "json"}, `no option "fromat" (did you mean "format"?); its options: path, format, fields.<f>.kind`)
	f(map[string]string{"path": "/x", "fields..kind": "x"}, `no option "fields..kind"`)
	f(map[string]string{"path": "/x", "fields.a.b.kind": "x"}, `no option "fields.a.b.kind"`)
	f(map[string]string{"format": "json"}, `needs option "path": where`)
}

func TestParseDuration(t *testing.T) {
	f := func(s string, want time.Duration) {
		t.Helper()
		got, err := ParseDuration(s)
		if err != nil || got != want {
			t.Fatalf("%q: got %v, %v; want %v", s, got, err, want)
		}
	}
	f("1m30s", 90*time.Second)
	f("10 s", 10*time.Second)
	f("500", 500*time.Millisecond)
	f("1 min", time.Minute)
	f("2 h", 2*time.Hour)
	if _, err := ParseDuration("soon"); err == nil {
		t.Fatal("soon parsed")
	}
}

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int64{"128MB": 128 << 20, "512 kb": 512 << 10, "100": 100, "1g": 1 << 30, "2KiB": 2048, " 8 MiB ": 8 << 20} {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "lots", "-1", "0", "1 parsec", "99999999999 tb"} {
		if got, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", s, got)
		}
	}
}
