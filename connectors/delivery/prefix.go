package delivery

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// prefixExpr is a compiled 'prefix': literal text and Firehose expressions,
// evaluated per row into an object key prefix.
type prefixExpr struct {
	parts []prefixPart
	cols  []int // columns of partitionKeyFromQuery
}

type partKind uint8

const (
	partText partKind = iota
	partTime
	partColumn
	partRandom
	partErrorType
)

type prefixPart struct {
	kind partKind
	text string    // partText
	time []timeTok // partTime
	col  int       // partColumn
	name string    // partColumn: the column name
}

// timeTok is a field of a timestamp pattern (yyyy, MM, dd, HH, mm, ss), or
// literal text when field is 0.
type timeTok struct {
	field byte // 'y', 'M', 'd', 'H', 'm', 's' or 0
	width int
	text  string
}

// errMissingKey is why a row cannot be partitioned.
var errMissingKey = errors.New("missing partition key")

// parsePrefix compiles s. Without a timestamp expression yyyy/MM/dd/HH/ is
// appended (after a '/' when s does not end with one), as Firehose does.
// The error-output-type expression is allowed only in an error prefix.
func parsePrefix(s string, schema *runtime.Schema, isError bool) (*prefixExpr, error) {
	p := &prefixExpr{}
	hasTime := false
	rest := s
	for rest != "" {
		i := strings.Index(rest, "!{")
		if i < 0 {
			p.parts = append(p.parts, prefixPart{kind: partText, text: rest})
			break
		}
		if i > 0 {
			p.parts = append(p.parts, prefixPart{kind: partText, text: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("%q: unclosed !{ at offset %d", s, len(s)-len(rest)+i)
		}
		expr := rest[i+2 : i+j]
		rest = rest[i+j+1:]
		ns, arg, _ := strings.Cut(expr, ":")
		switch ns {
		case "timestamp":
			toks, err := parseTimePattern(arg)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", s, err)
			}
			p.parts = append(p.parts, prefixPart{kind: partTime, time: toks})
			hasTime = true
		case "partitionKeyFromQuery":
			c := schema.Index(arg)
			if c < 0 {
				return nil, fmt.Errorf("%q: no column %q for partitionKeyFromQuery (columns: %s)", s, arg, strings.Join(schema.Names(), ", "))
			}
			p.parts = append(p.parts, prefixPart{kind: partColumn, col: c, name: schema.Fields[c].Name})
			p.cols = append(p.cols, c)
		case "firehose":
			switch arg {
			case "random-string":
				p.parts = append(p.parts, prefixPart{kind: partRandom})
			case "error-output-type":
				if !isError {
					return nil, fmt.Errorf("%q: !{firehose:error-output-type} belongs in error-prefix only", s)
				}
				p.parts = append(p.parts, prefixPart{kind: partErrorType})
			default:
				return nil, fmt.Errorf("%q: unknown expression !{firehose:%s} (want random-string or error-output-type)", s, arg)
			}
		default:
			return nil, fmt.Errorf("%q: unknown expression !{%s} (want timestamp, partitionKeyFromQuery or firehose)", s, expr)
		}
	}
	if !hasTime {
		if s != "" && !strings.HasSuffix(s, "/") {
			p.parts = append(p.parts, prefixPart{kind: partText, text: "/"})
		}
		toks, _ := parseTimePattern("yyyy/MM/dd/HH/")
		p.parts = append(p.parts, prefixPart{kind: partTime, time: toks})
	}
	if strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("%q: a prefix cannot start with /", s)
	}
	for _, part := range p.parts {
		if part.kind == partText {
			for _, seg := range strings.Split(part.text, "/") {
				if seg == ".." {
					return nil, fmt.Errorf("%q: a prefix cannot hold a \"..\" segment", s)
				}
			}
		}
	}
	return p, nil
}

// parseTimePattern parses the patterns of DateTimeFormatter that prefixes
// use: yyyy, MM, dd, HH, mm, ss and literal text ('…' quotes it).
func parseTimePattern(s string) ([]timeTok, error) {
	if s == "" {
		return nil, fmt.Errorf("empty timestamp pattern")
	}
	var toks []timeTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("timestamp pattern %q: unclosed quote", s)
			}
			toks = append(toks, timeTok{text: s[i+1 : i+1+j]})
			i += j + 2
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && s[j] == c {
				j++
			}
			w := j - i
			ok := (c == 'y' && (w == 4 || w == 2)) || (strings.IndexByte("MdHms", c) >= 0 && w == 2)
			if !ok {
				return nil, fmt.Errorf("timestamp pattern %q: %q is not supported (yyyy, yy, MM, dd, HH, mm, ss)", s, s[i:j])
			}
			toks = append(toks, timeTok{field: c, width: w})
			i = j
		default:
			j := i
			for j < len(s) && s[j] != '\'' && !(s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			toks = append(toks, timeTok{text: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

func appendTime(dst []byte, toks []timeTok, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	for _, tk := range toks {
		var v int
		switch tk.field {
		case 0:
			dst = append(dst, tk.text...)
			continue
		case 'y':
			v = t.Year()
			if tk.width == 2 {
				v %= 100
			}
		case 'M':
			v = int(t.Month())
		case 'd':
			v = t.Day()
		case 'H':
			v = t.Hour()
		case 'm':
			v = t.Minute()
		case 's':
			v = t.Second()
		}
		dst = appendPadded(dst, v, tk.width)
	}
	return dst
}

func appendPadded(dst []byte, v, width int) []byte {
	var buf [8]byte
	n := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(n); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, n...)
}

// eval appends the prefix of physical row r of b (b may be nil for an error
// prefix) to dst. ms is the time of the timestamp expressions. A
// partitionKeyFromQuery column that is NULL, empty, holds '/' or names "."
// or ".." is an error wrapping errMissingKey.
func (p *prefixExpr) eval(dst []byte, b *runtime.Batch, r int, ms int64, errType string) ([]byte, error) {
	for i := range p.parts {
		part := &p.parts[i]
		switch part.kind {
		case partText:
			dst = append(dst, part.text...)
		case partTime:
			dst = appendTime(dst, part.time, ms)
		case partRandom:
			dst = appendRandom(dst)
		case partErrorType:
			dst = append(dst, errType...)
		case partColumn:
			v := &b.Cols[part.col]
			if v.IsNull(r) {
				return dst, fmt.Errorf("%w: column %s is NULL", errMissingKey, part.name)
			}
			start := len(dst)
			switch v.Type {
			case runtime.Varchar:
				dst = append(dst, v.Str[r]...)
			case runtime.Double:
				dst = append(dst, runtime.FormatFloat(v.F64[r])...)
			case runtime.Boolean:
				dst = strconv.AppendBool(dst, v.I64[r] != 0)
			case runtime.Timestamp:
				dst = append(dst, strconv.FormatInt(v.I64[r], 10)...)
			default:
				if v.Type.IsDecimal() {
					dst = runtime.AppendDecimal(dst, v.I64[r], v.Type.Scale())
					break
				}
				dst = strconv.AppendInt(dst, v.I64[r], 10)
			}
			key := dst[start:]
			switch {
			case len(key) == 0:
				return dst, fmt.Errorf("%w: column %s is empty", errMissingKey, part.name)
			case string(key) == "." || string(key) == "..":
				return dst, fmt.Errorf("%w: column %s is %q, not a folder name", errMissingKey, part.name, key)
			}
			for _, c := range key {
				if c == '/' || c == '\\' || c == 0 {
					return dst, fmt.Errorf("%w: column %s holds %q, which cannot be in a folder name", errMissingKey, part.name, c)
				}
			}
		}
	}
	return dst, nil
}

const randomAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// appendRandom appends 11 random characters, as Firehose's random-string.
func appendRandom(dst []byte) []byte {
	var b [11]byte
	rand.Read(b[:])
	for _, c := range b {
		dst = append(dst, randomAlphabet[int(c)%len(randomAlphabet)])
	}
	return dst
}
