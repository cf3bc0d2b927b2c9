package format

import (
	"encoding/binary"
	"errors"

	"github.com/sluicehq/sluice/runtime"
)

// The lines of a JSON-lines file mostly share one shape: the same keys in
// the same order, written the same way, only the values differ. The
// decoder remembers the shape of a line the general path decoded (the text
// before each value, the value's column, the text after the last value)
// and tries it on the next line first: it compares each piece of text as
// it is and parses each value by its column's type, appending to the
// columns as it goes. At the first difference it takes back what it
// appended and the general path decodes the line. A line that matches the
// shape is tokenized as the line the shape was taken from, its keys name
// the same columns, and its values are parsed by what value() does for
// them (or by value() itself), so both paths give the same row.

// shapes enables the shape path (tests compare with it off).
var shapes = true

// shapeSeg is the text before a value of the shape, and the value's
// column (-1: a key the schema lacks, whose value is skipped).
type shapeSeg struct {
	word, mask uint64 // the text as a little-endian word, the bytes mask keeps (0: longer than a word)
	from, to   int    // the text: shape.text[from:to]
	col        int
	kind       uint8
}

// How a shape value is parsed: by its column's type, or skipped.
const (
	kindSkip = iota
	kindBigInt
	kindTime
	kindString
	kindOther // value() into the column's slot
)

// shape is the remembered shape of a line.
type shape struct {
	ok      bool
	segs    []shapeSeg
	text    []byte // the texts of segs, then the tail
	tail    int    // text[tail:] follows the last value, to the end of the line
	missing []int  // the (nullable) columns the line has no key for
	seen    []bool // learnShape's scratch: the columns found
	// credit is how many shapes may be learnt now: one more every
	// shapeRefill lines, up to shapeCredit, so that lines of changing
	// shapes cost a second walk only now and then.
	credit, lines int
	// trust rises by one for each line the shape decodes and falls by
	// two for each it does not; below -shapeDoubt the shape is not tried
	// for the next shapePause lines (pause), so that lines that keep
	// differing late (when most of the shape's work is done) cost little
	// more than the general path.
	trust, pause int
	// For tests: lines decoded by a shape, lines a shape was tried on in
	// vain, shapes learnt.
	hits, misses, learnt int64
}

const (
	shapeCredit = 8
	shapeRefill = 16
	shapeTrust  = 8
	shapeDoubt  = 8
	shapePause  = 256
)

// try counts a line towards the learning credit and reports whether to
// try the shape on it.
func (sh *shape) try() bool {
	if sh.lines++; sh.lines >= shapeRefill {
		sh.lines = 0
		sh.credit = min(sh.credit+1, shapeCredit)
	}
	if sh.pause > 0 {
		sh.pause--
		return false
	}
	return sh.ok
}

// tried records whether the shape decoded the line it was tried on.
func (sh *shape) tried(hit bool) {
	if hit {
		sh.hits++
		sh.trust = min(sh.trust+1, shapeTrust)
		return
	}
	sh.misses++
	if sh.trust -= 2; sh.trust < -shapeDoubt {
		sh.trust, sh.pause = 0, shapePause
	}
}

// maxShapeKeys bounds the keys of a line whose shape is remembered.
const maxShapeKeys = 64

var errShapeTooWide = errors.New("more keys than a shape holds")

// learnShape remembers the shape of s, a line the general path decoded
// without error: not when the schema has ROW columns (whose keys the
// general path resolves by path), a column's key occurs twice (the level
// rules then pick a value), or it has many keys. Shapes are learnt less
// often while lines keep differing (see shape.credit).
func (d *JSONDecoder) learnShape(s []byte) {
	sh := &d.shape
	if sh.credit == 0 || d.rows != nil {
		return
	}
	sh.credit--
	sh.learnt++
	sh.ok = false
	sh.segs, sh.text, sh.missing = sh.segs[:0], sh.text[:0], sh.missing[:0]
	if sh.seen == nil {
		sh.seen = make([]bool, len(d.fields))
	}
	clear(sh.seen)
	i := skipWS(s, 0)
	prev, dup := 0, false
	_, err := walkObject(s, i, func(s, key []byte, plain bool, k, at int) (int, error) {
		if k >= maxShapeKeys {
			return at, errShapeTooWide
		}
		end, err := skipValue(s, at, 0)
		if err != nil {
			return at, err
		}
		if !plain {
			d.key = appendUnescaped(d.key[:0], key)
			key = d.key
		}
		col, _ := d.match(key)
		kind := uint8(kindSkip)
		if col >= 0 {
			if sh.seen[col] {
				dup = true
			}
			sh.seen[col] = true
			switch d.fields[col].Type {
			case runtime.BigInt:
				kind = kindBigInt
			case runtime.Timestamp:
				kind = kindTime
			case runtime.Varchar:
				kind = kindString
			default:
				kind = kindOther
			}
		}
		g := shapeSeg{from: len(sh.text), col: col, kind: kind}
		sh.text = append(sh.text, s[prev:at]...)
		g.to = len(sh.text)
		g.word, g.mask = textWord(sh.text[g.from:g.to])
		sh.segs = append(sh.segs, g)
		prev = end
		return end, nil
	})
	if err != nil || dup {
		return
	}
	sh.tail = len(sh.text)
	sh.text = append(sh.text, s[prev:]...)
	for c, f := range d.fields {
		if !sh.seen[c] {
			if !f.Nullable {
				return // cannot be: the line decoded
			}
			sh.missing = append(sh.missing, c)
		}
	}
	sh.ok = true
}

// textWord returns text (at most 8 bytes) as a little-endian word and the
// mask of its bytes; mask 0 when text is longer or empty.
func textWord(text []byte) (word, mask uint64) {
	if len(text) == 0 || len(text) > 8 {
		return 0, 0
	}
	var b [8]byte
	copy(b[:], text)
	mask = ^uint64(0)
	if len(text) < 8 {
		mask = 1<<(8*len(text)) - 1
	}
	return binary.LittleEndian.Uint64(b[:]), mask
}

// decodeShape appends the row of s to b when s has the remembered shape
// and its values are what its columns take; otherwise it leaves b as it
// was and returns false, for the general path.
func (d *JSONDecoder) decodeShape(s []byte, b *runtime.Batch) bool {
	sh := &d.shape
	d.buf = d.buf[:0]
	n, i := b.N, 0
	for k := range sh.segs {
		g := &sh.segs[k]
		if g.mask != 0 && i+8 <= len(s) {
			if binary.LittleEndian.Uint64(s[i:])&g.mask != g.word {
				return d.undoShape(b, n, k)
			}
			i += g.to - g.from
		} else {
			e := i + g.to - g.from
			if e > len(s) || string(s[i:e]) != string(sh.text[g.from:g.to]) {
				return d.undoShape(b, n, k)
			}
			i = e
		}
		if i >= len(s) {
			return d.undoShape(b, n, k)
		}
		if g.kind == kindSkip {
			var err error
			if i, err = skipValue(s, i, 0); err != nil {
				return d.undoShape(b, n, k)
			}
			continue
		}
		v := &b.Cols[g.col]
		switch c := s[i]; {
		case g.kind == kindTime && c == '"':
			if x, end, ok := d.times.quoted(s, i); ok {
				v.AppendInt(x)
				i = end
				continue
			}
		case g.kind == kindString && c == '"':
			end, plain, err := scanString(s, i+1)
			if err != nil {
				return d.undoShape(b, n, k)
			}
			if plain {
				v.AppendString(string(s[i+1 : end-1]))
				i = end
				continue
			}
		case g.kind <= kindTime && smallInts && (c == '-' || c-'0' <= 9):
			if x, end, ok := scanSmallInt(s, i); ok {
				v.AppendInt(x)
				i = end
				continue
			}
		}
		// Any other value: as the general path takes it.
		end, err := d.value(s, i, g.col, matchExact)
		if err != nil || !d.appendSlot(v, g.col, s) {
			return d.undoShape(b, n, k)
		}
		i = end
	}
	t := sh.text[sh.tail:]
	if len(s)-i != len(t) || string(s[i:]) != string(t) {
		return d.undoShape(b, n, len(sh.segs))
	}
	for _, c := range sh.missing {
		b.Cols[c].AppendNull()
	}
	b.N++
	return true
}

// appendSlot appends column col's slot, which value() set from line, to
// v; false when it is a NULL the column does not take.
func (d *JSONDecoder) appendSlot(v *runtime.Vector, col int, line []byte) bool {
	if d.null[col] {
		if !d.fields[col].Nullable {
			return false
		}
		v.AppendNull()
		return true
	}
	switch v.Type.Physical() {
	case runtime.PhysFloat:
		v.AppendFloat(d.f64[col])
	case runtime.PhysString:
		r := d.str[col]
		if r.inBuf {
			v.AppendString(string(d.buf[r.start:r.end]))
		} else {
			v.AppendString(string(line[r.start:r.end]))
		}
	default:
		v.AppendInt(d.i64[col])
	}
	return true
}

// undoShape takes back the values the shape path appended to b, which had
// n rows, for the first k segments; it returns false.
func (d *JSONDecoder) undoShape(b *runtime.Batch, n, k int) bool {
	for _, g := range d.shape.segs[:k] {
		if g.col >= 0 {
			b.Cols[g.col].Truncate(n)
		}
	}
	return false
}
