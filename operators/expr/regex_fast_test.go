package expr

import (
	"regexp"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestSimpleRegexMatchesLikeRegexp: for random expressions of the hand
// matcher's shape (and some just outside it, which it must refuse or
// match alike) over random inputs, with invalid UTF-8 and U+FFFD among
// them, every group of the first match is where regexp puts it.
func TestSimpleRegexMatchesLikeRegexp(t *testing.T) {
	leads := []string{"", "^", "&", "(&|^)", "(?:&|^)", "(^|&)", "(a|b)", "[&?]", "(&|\\?|^)", "(ab|a)", "(a|ab)",
		"(é|^)", "(a)", "(?i:a)", "(a|b*)", "\\x{FFFD}", "(\\x{FFFD}|^)"}
	tails := []string{"", "([^&]*)", "([^&]+)", "(.*)", "(.+)", "[^&]*", "(\\w+)", "(a*)", "(?s:.*)", "([^&]*?)",
		"(é*)", "([^\\x{FFFD}]*)", "(\\x{FFFD}*)", "(a|b)", "(a?)"}
	suffixes := []string{"", "", "", "$", "b", "(b)"}
	pieces := []string{"a", "b", "&", "=", "x", "é", "\n", "\xff", "\xe2\x82", "\uFFFD", "?", "ab", "A"}
	rapid.Check(t, func(t *rapid.T) {
		lit := strings.Join(rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "=", "&", "é", "x", "\n"}), 0, 3).Draw(t, "lit"), "")
		expr := rapid.SampledFrom(leads).Draw(t, "lead") + regexp.QuoteMeta(lit) + rapid.SampledFrom(tails).Draw(t, "tail") +
			rapid.SampledFrom(suffixes).Draw(t, "suffix")
		re, err := regexp.Compile(expr)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		fast := newSimpleRegex(expr)
		if fast == nil {
			t.Skip("not of the shape")
		}
		parts := rapid.SliceOfN(rapid.SampledFrom(append(pieces, lit)), 0, 12).Draw(t, "input")
		s := strings.Join(parts, "")
		want := re.FindStringSubmatchIndex(s)
		for g := 0; g <= re.NumSubexp(); g++ {
			start, end, ok := fast.group(s, g)
			switch {
			case want == nil || want[2*g] < 0:
				if ok {
					t.Fatalf("%q in %q: group %d at %d:%d, regexp: none (%v)", expr, s, g, start, end, want)
				}
			case !ok || start != want[2*g] || end != want[2*g+1]:
				t.Fatalf("%q in %q: group %d at %d:%d (%v), regexp: %v", expr, s, g, start, end, ok, want)
			}
		}
		p := &pattern{Regexp: re, fast: fast}
		if p.match(s) != re.MatchString(s) {
			t.Fatalf("%q in %q: match %v, regexp %v", expr, s, p.match(s), re.MatchString(s))
		}
	})
}

// TestSimpleRegexTakesNexmarkQ21sPattern: q21's channel_id pattern and
// its kin are matched by hand; a lazy tail, a case-folded literal or
// anything after the tail is left to regexp.
func TestSimpleRegexTakesNexmarkQ21sPattern(t *testing.T) {
	for _, p := range []string{`(&|^)channel_id=([^&]*)`, `channel_id=([^&]*)`, `^a(.*)`, `(?:&|^)x=(\w+)`, `(&|\?)x=([^&]*)`, `abc`} {
		if newSimpleRegex(p) == nil {
			t.Errorf("%s: not matched by hand", p)
		}
	}
	for _, p := range []string{`x=([^&]*?)`, `(?i)abc`, `x=(.*)$`, `x=(.*)y`, `(a|b*)x`, `(.*)x`, `a|b`} {
		if newSimpleRegex(p) != nil {
			t.Errorf("%s: matched by hand", p)
		}
	}
	url := "https://www.nexmark.com/abcde/fghij/klmno/item.htm?query=1&channel_id=1234567"
	s, e, ok := newSimpleRegex(`(&|^)channel_id=([^&]*)`).group(url, 2)
	if !ok || url[s:e] != "1234567" {
		t.Fatalf("channel_id: %q %v", url[s:e], ok)
	}
}
