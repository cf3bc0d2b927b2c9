package parser

import (
	"fmt"
	"strings"
	"testing"
)

func TestLex(t *testing.T) {
	kinds := map[tokKind]string{tIdent: "id", tQuotedIdent: "qid", tNumber: "num", tString: "str", tDQuoted: "dq", tPunct: "p"}
	f := func(src, want string) {
		t.Helper()
		toks, err := lex(src)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		var got []string
		for _, tk := range toks {
			if src[tk.off:tk.end] != tk.text {
				t.Fatalf("%q: token %q has offsets of %q", src, tk.text, src[tk.off:tk.end])
			}
			s := fmt.Sprintf("%s:%s@%s", kinds[tk.kind], tk.text, tk.pos)
			if tk.val != tk.text {
				s += "=" + tk.val
			}
			got = append(got, s)
		}
		if g := strings.Join(got, " "); g != want {
			t.Fatalf("%q:\ngot  %s\nwant %s", src, g, want)
		}
	}
	f("", "")
	f("  -- only a comment", "")
	f("SELECT a1_$b, _x FROM t", "id:SELECT@1:1 id:a1_$b@1:8 p:,@1:13 id:_x@1:15 id:FROM@1:18 id:t@1:23")
	f("x\n  y\n\n\tz", "id:x@1:1 id:y@2:3 id:z@4:2")
	f("12 1.5 .5 1e3 2E-2 3e x.y 4.", "num:12@1:1 num:1.5@1:4 num:.5@1:8 num:1e3@1:11 num:2E-2@1:15 num:3@1:20 id:e@1:21 id:x@1:23 p:.@1:24 id:y@1:25 num:4.@1:27")
	f("'it''s' '' 'a;b'", "str:'it''s'@1:1=it's str:''@1:9= str:'a;b'@1:12=a;b")
	f("`my col` `a``b` `;`", "qid:`my col`@1:1=my col qid:`a``b`@1:10=a`b qid:`;`@1:17=;")
	f(`"a;b" "x""y"`, `dq:"a;b"@1:1=a;b dq:"x""y"@1:7=x"y`)
	f("a<=b>=c<>d!=e||f::g=>h", "id:a@1:1 p:<=@1:2 id:b@1:4 p:>=@1:5 id:c@1:7 p:<>@1:8 id:d@1:10 p:!=@1:11 id:e@1:13 p:||@1:14 id:f@1:16 p:::@1:17 id:g@1:19 p:=>@1:20 id:h@1:22")
	f("a-b - -c --d\n/* x\n;*/e/**/f", "id:a@1:1 p:-@1:2 id:b@1:3 p:-@1:5 p:-@1:7 id:c@1:8 id:e@3:4 id:f@3:9")
	// Columns count characters, not bytes.
	f("'é' ü `日本` x", "str:'é'@1:1=é id:ü@1:5 qid:`日本`@1:7=日本 id:x@1:12")
	f("'a\nb' c", "str:'a\nb'@1:1=a\nb id:c@2:4")
	f("\uFEFFSELECT", "id:SELECT@1:1")
	f("a\\b @?#", `id:a@1:1 p:\@1:2 id:b@1:3 p:@@1:5 p:?@1:6 p:#@1:7`)
	f("\xffa", "p:\xff@1:1 id:a@1:2")
}

func TestLexErrors(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		_, err := lex(src)
		if err == nil || err.Error() != want {
			t.Fatalf("%q: got %v, want %s", src, err, want)
		}
	}
	f("SELECT 'abc", `line 1:8: unterminated string near "'abc"`)
	f("x\n  'it''s\nmore", `line 2:3: unterminated string near "'it''s"`)
	f("é /* never closed\n;", `line 1:3: unterminated comment near "/* never closed"`)
	f("select `a", "line 1:8: unterminated quoted name near \"`a\"")
	f(`"abc`, `line 1:1: unterminated double-quoted text near "\"abc"`)
	f("'"+strings.Repeat("x", 40), `line 1:1: unterminated string near "'`+strings.Repeat("x", 31)+`…"`)
	f("/*/", `line 1:1: unterminated comment near "/*/"`)
}
