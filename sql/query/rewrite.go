package query

import (
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// The rewrite bridges what sqlparser (MySQL's dialect) cannot read in
// Sluice's (Flink's) before parsing, keeping a map from every byte of the
// rewritten text back to the user's text:
//
//   - CAST(x AS DOUBLE|FLOAT|BIGINT|INT|INTEGER|VARCHAR[(n)]|STRING|BOOLEAN|
//     TIMESTAMP[(3)]) becomes CAST(x AS DECIMAL(code)), where code is a number
//     that appears nowhere in the statement and stands for the type;
//   - TIMESTAMP '2026-01-01 00:00:00' becomes CAST('…' AS DECIMAL(code));
//   - SUBSTRING(s, i[, n]) and SUBSTRING(s FROM i [FOR n]) become a plain call
//     of sluice_substring (sqlparser wants a bare column as SUBSTRING's first
//     argument);
//   - REGEXP(s, re) becomes sluice_regexp(s, re); EXTRACT(unit FROM x)
//     becomes sluice_extract('unit', x); POSITION(a IN b) becomes
//     POSITION(a, b); FLOOR(x TO unit) and CEIL(x TO unit) become
//     FLOOR(x, 'unit') and CEIL(x, 'unit');
//   - "name" becomes `name` (a quoted name, as in standard SQL; sqlparser
//     reads it as a string);
//   - a backslash in a string is doubled (it is an ordinary character in
//     Flink SQL, an escape in sqlparser's);
//   - words that sqlparser reserves but Sluice's queries never use as
//     keywords (KEY, INDEX, SCHEMA, …; see quoteWords) are quoted, so that they
//     can name columns.
//
// `||` is refused (sqlparser reads it as OR; in Flink it concatenates), and
// so are `?` parameters, OVER (…) and window table functions (TABLE(…)),
// with messages that say so rather than a bare syntax error.

// substringFunc is the name SUBSTRING calls are rewritten to; regexpFunc
// and extractFunc those of REGEXP (a keyword of sqlparser's) and EXTRACT.
const (
	substringFunc = "sluice_substring"
	regexpFunc    = "sluice_regexp"
	extractFunc   = "sluice_extract"
)

// castTarget is what a DECIMAL(code) of the rewrite stands for.
type castTarget struct {
	typ     runtime.Type
	literal bool // from TIMESTAMP '…'
}

// seg maps the rewritten bytes [nStart, nEnd) to the original bytes
// [oStart, oEnd): byte for byte when verbatim, else as a whole.
type seg struct {
	nStart, nEnd, oStart, oEnd int
	verbatim                   bool
}

// rewritten is a statement's text as sqlparser is given it.
type rewritten struct {
	text    string
	segs    []seg
	origLen int
	casts   map[string]castTarget // by code
}

// origStart maps an offset of the rewritten text to the user's text, as the
// start of a span.
func (r *rewritten) origStart(n int) int {
	i := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].nEnd > n })
	if i == len(r.segs) {
		return r.origLen
	}
	s := r.segs[i]
	if s.verbatim {
		return s.oStart + max(0, n-s.nStart)
	}
	return s.oStart
}

// origEnd maps an offset of the rewritten text to the user's text, as the
// (exclusive) end of a span.
func (r *rewritten) origEnd(n int) int {
	if n <= 0 {
		return 0
	}
	i := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].nEnd >= n })
	if i == len(r.segs) {
		return r.origLen
	}
	s := r.segs[i]
	if s.verbatim {
		return s.oStart + min(n-s.nStart, s.oEnd-s.oStart)
	}
	return s.oEnd
}

// rewriter builds a rewritten text from the original.
type rewriter struct {
	orig string
	b    strings.Builder
	segs []seg
	done int // original bytes consumed
	out  *rewritten
	code int
}

// copyTo copies the original text up to offset off verbatim.
func (w *rewriter) copyTo(off int) {
	if off <= w.done {
		return
	}
	n := w.b.Len()
	w.b.WriteString(w.orig[w.done:off])
	w.segs = append(w.segs, seg{n, w.b.Len(), w.done, off, true})
	w.done = off
}

// replace writes text in place of the original bytes [start, end).
func (w *rewriter) replace(start, end int, text string) {
	w.copyTo(start)
	n := w.b.Len()
	w.b.WriteString(text)
	if w.b.Len() > n {
		w.segs = append(w.segs, seg{n, w.b.Len(), start, end, false})
	}
	w.done = end
}

// castCode returns the DECIMAL length standing for t: a number found
// nowhere in the original text, so that it cannot be confused with one the
// user wrote.
func (w *rewriter) castCode(t castTarget) string {
	for {
		w.code++
		code := strconv.Itoa(7_300_000 + w.code)
		if !strings.Contains(w.orig, code) {
			w.out.casts[code] = t
			return code
		}
	}
}

// quoteWords are words sqlparser reserves that Sluice's queries never use
// as keywords: written bare, they are names (a column called key).
var quoteWords = map[string]bool{
	"key": true, "index": true, "lock": true, "show": true, "use": true, "rename": true, "separator": true,
	"database": true, "databases": true, "schema": true, "force": true, "explain": true, "describe": true,
	"maxvalue": true, "next": true, "tables": true, "unique": true, "auto_increment": true, "add": true,
}

// castTypes are the CAST targets of the dialect.
var castTypes = map[string]runtime.Type{
	"boolean": runtime.Boolean, "bool": runtime.Boolean,
	"int": runtime.Int, "integer": runtime.Int,
	"bigint": runtime.BigInt,
	"double": runtime.Double, "float": runtime.Double,
	"varchar": runtime.Varchar, "string": runtime.Varchar,
	"timestamp": runtime.Timestamp,
}

const castTypeList = "BOOLEAN, INT, BIGINT, DOUBLE, FLOAT, VARCHAR, STRING, TIMESTAMP(3)"

// rewrite returns text rewritten for sqlparser, with a trailing space that
// makes an error at the end of the statement distinct from one at its last
// token, or the first lexical or dialect error as a span of text and a
// message.
func rewrite(text string) (*rewritten, *lexError) {
	toks, lerr := lex(text, flinkMode)
	if lerr != nil {
		return nil, lerr
	}
	w := &rewriter{orig: text, out: &rewritten{origLen: len(text), casts: map[string]castTarget{}}}
	type open struct {
		depth int
		kind  string // "cast" or "substring"
	}
	var opens []open
	depth := 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := func(k int) token {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return token{}
		}
		inner := func(kind string) bool {
			return len(opens) > 0 && opens[len(opens)-1].depth == depth && opens[len(opens)-1].kind == kind
		}
		switch {
		case t.is("("):
			depth++
			if i > 0 && toks[i-1].kind == tkWord {
				switch toks[i-1].val {
				case "cast":
					opens = append(opens, open{depth, "cast"})
				case "substring", "substr":
					opens = append(opens, open{depth, "substring"})
				case "position":
					opens = append(opens, open{depth, "position"})
				case "floor", "ceil", "ceiling":
					opens = append(opens, open{depth, "floor"})
				}
			}
		case t.is(")"):
			if len(opens) > 0 && opens[len(opens)-1].depth == depth {
				opens = opens[:len(opens)-1]
			}
			depth--
		case t.is("?"):
			return nil, &lexError{t.start, t.end, "parameters are not supported"}
		case t.is("over") && next(1).is("("):
			return nil, &lexError{t.start, t.end, "OVER (…) is not supported: aggregate with GROUP BY and TUMBLE, HOP or SESSION"}
		case t.is("table") && next(1).is("("):
			return nil, &lexError{t.start, t.end, "window table functions are not supported: write GROUP BY TUMBLE(ts, INTERVAL …)"}
		case t.kind == tkWord && quoteWords[t.val] && !next(1).is("("):
			w.replace(t.start, t.end, "`"+text[t.start:t.end]+"`")
		case t.is("||"):
			return nil, &lexError{t.start, t.end, "|| is not supported: use CONCAT(a, b)"}
		case t.kind == tkQuoted && text[t.start] == '"':
			w.replace(t.start, t.end, "`"+strings.ReplaceAll(t.val, "`", "``")+"`")
		case t.kind == tkString && strings.Contains(text[t.start:t.end], `\`):
			w.replace(t.start, t.end, strings.ReplaceAll(text[t.start:t.end], `\`, `\\`))
		case (t.is("substring") || t.is("substr")) && next(1).is("("):
			w.replace(t.start, t.end, substringFunc)
		case (t.is("from") || t.is("for")) && inner("substring"):
			w.replace(t.start, t.end, ",")
		case t.is("in") && inner("position"):
			w.replace(t.start, t.end, ",")
		case t.is("to") && inner("floor") && next(1).kind == tkWord:
			u := next(1)
			w.replace(t.start, u.end, ", '"+strings.ToUpper(u.val)+"'")
			i++
		case t.is("regexp") && next(1).is("("):
			w.replace(t.start, t.end, regexpFunc)
		case t.is("extract") && next(1).is("(") && next(2).kind == tkWord && next(3).is("from"):
			u, from := next(2), next(3)
			w.replace(t.start, from.end, extractFunc+"('"+strings.ToUpper(u.val)+"',")
			i += 3
			depth++ // the ( taken
		case t.is("as") && inner("cast"):
			end, typ, err := castType(toks[i+1:])
			if err != nil {
				return nil, err
			}
			if end < 0 { // not a form we know; sqlparser will say why
				break
			}
			last := toks[i+1+end]
			w.replace(toks[i+1].start, last.end, "DECIMAL("+w.castCode(castTarget{typ: typ})+")")
			i += 1 + end
		case t.is("timestamp") && next(1).kind == tkString && (i == 0 || !toks[i-1].is(".")):
			s := next(1)
			lit := text[s.start:s.end]
			lit = strings.ReplaceAll(lit, `\`, `\\`)
			code := w.castCode(castTarget{typ: runtime.Timestamp, literal: true})
			w.replace(t.start, s.end, "CAST("+lit+" AS DECIMAL("+code+"))")
			i++
		}
	}
	w.copyTo(len(text))
	w.replace(len(text), len(text), " ")
	w.out.text = w.b.String()
	w.out.segs = w.segs
	return w.out, nil
}

// castType reads the type of a CAST from toks, which follow its AS. It
// returns the index in toks of the type's last token (-1 when toks do not
// start with a type followed by ')'), and the type.
func castType(toks []token) (int, runtime.Type, *lexError) {
	if len(toks) == 0 || toks[0].kind != tkWord {
		return -1, 0, nil
	}
	name := toks[0]
	typ, ok := castTypes[name.val]
	if !ok {
		return 0, 0, &lexError{name.start, name.end, "CAST to " + strings.ToUpper(name.val) +
			" is not supported (types: " + castTypeList + ")"}
	}
	end := 0
	if len(toks) > 1 && toks[1].is("precision") && name.val == "double" {
		end = 1
	}
	if len(toks) > end+3 && toks[end+1].is("(") && toks[end+2].kind == tkNumber && toks[end+3].is(")") {
		n := toks[end+2]
		switch typ {
		case runtime.Varchar:
		case runtime.Timestamp:
			if n.val != "3" {
				return 0, 0, &lexError{name.start, toks[end+3].end, "TIMESTAMP(" + n.val +
					") is not supported: timestamps have millisecond precision, TIMESTAMP(3)"}
			}
		default:
			return 0, 0, &lexError{name.start, toks[end+3].end, strings.ToUpper(name.val) + " takes no length"}
		}
		end += 3
	}
	if len(toks) <= end+1 || !toks[end+1].is(")") {
		return -1, 0, nil
	}
	return end, typ, nil
}
