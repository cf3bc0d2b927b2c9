package expr

import (
	"testing"
	"unicode/utf8"
)

// likeReference matches by dynamic programming over characters, the
// definition compileLike must agree with.
func likeReference(s, p string) bool {
	chars := func(x string) []string {
		var out []string
		for len(x) > 0 {
			_, w := utf8.DecodeRuneInString(x)
			out = append(out, x[:w])
			x = x[w:]
		}
		return out
	}
	sc, pc := chars(s), chars(p)
	// m[j] reports whether sc[:i] matches pc[:j], for the current i.
	m := make([]bool, len(pc)+1)
	m[0] = true
	for j := 1; j <= len(pc) && pc[j-1] == "%"; j++ {
		m[j] = true
	}
	for i := 1; i <= len(sc); i++ {
		next := make([]bool, len(pc)+1)
		for j := 1; j <= len(pc); j++ {
			switch pc[j-1] {
			case "%":
				next[j] = next[j-1] || m[j]
			case "_":
				next[j] = m[j-1]
			default:
				next[j] = m[j-1] && pc[j-1] == sc[i-1]
			}
		}
		m = next
	}
	return m[len(pc)]
}

func TestLike(t *testing.T) {
	f := func(s, p string, want bool) {
		t.Helper()
		if got := compileLike(p).match(s); got != want {
			t.Fatalf("%q LIKE %q = %v, want %v", s, p, got, want)
		}
		if ref := likeReference(s, p); ref != want {
			t.Fatalf("reference: %q LIKE %q = %v, want %v", s, p, ref, want)
		}
	}
	f("", "", true)
	f("a", "", false)
	f("", "%", true)
	f("", "_", false)
	f("", "%%", true)
	f("abc", "abc", true)
	f("abc", "ab", false)
	f("abc", "abcd", false)
	f("abc", "a%", true)
	f("abc", "%c", true)
	f("abc", "%b%", true)
	f("abc", "%d%", false)
	f("abc", "a_c", true)
	f("abc", "a__", true)
	f("abc", "a___", false)
	f("abc", "___", true)
	f("abc", "_%_", true)
	f("ab", "_%_%_", false)
	f("abc", "%a%b%c%", true)
	f("abc", "%c%b%", false)
	f("aXbXc", "a%b%c", true)
	f("abcabc", "%abc", true)
	f("abcab", "%abc", false)
	f("abcabd", "a%abd", true)
	f("aaa", "a%a%a", true)
	f("aa", "a%a%a", false)
	f("mississippi", "m%iss%pi", true)
	f("mississippi", "m%iss%ssi%pi", true)
	f("mississippi", "%s_i%", true)
	f("mississippi", "%p_p%", false)
	f("hello world", "h%o w%d", true)
	f("100%", "100%", true)
	f("héllo", "h_llo", true)
	f("héllo", "h__llo", false)
	f("héllo", "%é%", true)
	f("日本語", "_本_", true)
	f("日本語", "%語", true)
	f("日本語", "日%", true)
	f("日本語", "___", true)
	f("日本語", "____", false)
	f("日本語", "%_語", true)
	f("日本語", "日_%_", true)
	f("\xe4\xb8\xad", "\xe4%", false) // a valid character is not its first byte
	f("\xe4a", "\xe4_", true)         // an invalid byte is a character
	f("a\xffb", "a_b", true)
	f("a\xffb", "%\xff%", true)
}

func FuzzLike(f *testing.F) {
	for _, seed := range [][2]string{
		{"abc", "a%"}, {"abc", "%b_"}, {"mississippi", "m%iss%pi"}, {"日本語", "_本%"},
		{"", "%"}, {"aaa", "a%a%a"}, {"a\xffb", "a_b"}, {"\xe4\xb8\xad", "\xe4%"},
		{"xyzxyz", "%yz%_z"}, {"abab", "%ab_"}, {"ñ", "__"}, {"hello", "he__%o"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, s, p string) {
		if len(s) > 200 || len(p) > 50 {
			return // the reference is quadratic
		}
		got, want := compileLike(p).match(s), likeReference(s, p)
		if got != want {
			t.Fatalf("%q LIKE %q = %v, reference says %v", s, p, got, want)
		}
	})
}
