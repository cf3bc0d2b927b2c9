package format

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// shapeSchema has a column of every type; id and ts are NOT NULL.
var shapeSchema = runtime.NewSchema(
	runtime.Field{Name: "id", Type: runtime.BigInt},
	runtime.Field{Name: "n", Type: runtime.Int, Nullable: true},
	runtime.Field{Name: "d", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "b", Type: runtime.Boolean, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "amount", Type: runtime.DecimalType(10, 2), Nullable: true},
	runtime.Field{Name: "ms", Type: runtime.Timestamp, Nullable: true},
)

// shapeKeys are the keys lines are drawn with: the columns' names, written
// as they are, in another case or escaped, and keys the schema lacks.
var shapeKeys = []string{`"id"`, `"n"`, `"d"`, `"s"`, `"b"`, `"ts"`, `"amount"`, `"ms"`,
	`"ID"`, `"\u0069d"`, `"Ts"`, `"x"`, `"extra"`, `"s\""`, `"t"`}

// shapeValues are the values lines are drawn with: of every column's type
// and of none, well formed or not.
var shapeValues = []string{
	`1`, `-20`, `0`, `4711`, `123456789012345678`, `1234567890123456789`, `99999999999999999999`, `01`, `-`, `1.5`,
	`2e3`, `-0.0`, `1e999`, `2147483648`, `12.345`, `3.14`,
	`null`, `nul`, `true`, `false`, `tru`,
	`"a"`, `""`, `"x\"y"`, `"\u00e9t\u00e9"`, `"é"`, "\"\xff\"", `"ab`, `"1"`, `"true"`, `"12.5"`,
	`"2023-11-14 22:13:20.123"`, `"2023-11-14 22:13:20.456"`, `"2023-11-14 22:13:59.9Z"`, `"2023-11-14 22:14:00"`,
	`"2023-11-14 22:13:61"`, `"2023-11-14 22:13:20.12\u0033"`, `"2023-11-14T22:13:20+01:00"`, `"2023-11-14 22:13"`,
	`{}`, `{"a":[1,{"b":null}]}`, `[1,"x"]`, `[`, `{"a":}`,
}

// goodValues are values each column takes, by key.
var goodValues = map[string][]string{
	`"id"`:     {`1`, `-20`, `4711`, `123456789012345678`},
	`"n"`:      {`1`, `-7`, `null`},
	`"d"`:      {`1.5`, `-2e3`, `7`, `null`},
	`"s"`:      {`"a"`, `""`, `"x\"y"`, `"é"`, `null`},
	`"b"`:      {`true`, `false`, `null`},
	`"ts"`:     {`"2023-11-14 22:13:20.123"`, `"2023-11-14 22:13:20.456"`, `"2023-11-14 22:13:21"`, `1700000000123`},
	`"amount"`: {`12.34`, `-1`, `null`},
	`"ms"`:     {`"2023-11-14 22:13:20.123"`, `1700000000123`, `null`},
}

// lineShape is the keys of a line and the spaces around its tokens.
type lineShape struct {
	keys   []string
	spaces []string
}

// drawLineShape draws a shape: mostly the columns' keys, in any order,
// some left out (the NOT NULL ones seldom), now and then any of
// shapeKeys; spaces around tokens
// when spaced.
func drawLineShape(t *rapid.T, spaced bool) lineShape {
	keys := rapid.Permutation(shapeKeys[:8]).Draw(t, "order")
	keys = keys[:rapid.IntRange(0, len(keys)).Draw(t, "keep")]
	if rapid.IntRange(0, 3).Draw(t, "required") > 0 { // mostly with the NOT NULL columns
		for _, k := range []string{`"id"`, `"ts"`} {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	for range rapid.IntRange(0, 2).Draw(t, "more") {
		k := rapid.SampledFrom(shapeKeys).Draw(t, "key")
		at := rapid.IntRange(0, len(keys)).Draw(t, "at")
		keys = append(keys[:at], append([]string{k}, keys[at:]...)...)
	}
	sh := lineShape{keys: keys, spaces: make([]string, 4*len(keys)+3)}
	if spaced {
		for i := range sh.spaces {
			sh.spaces[i] = rapid.SampledFrom([]string{"", " ", "\t", "  "}).Draw(t, "ws")
		}
	}
	return sh
}

// drawShapeLine draws a line of shape sh, each key with a value its
// column takes or, now and then, any of shapeValues; now and then with
// other spaces, or damaged.
func drawShapeLine(t *rapid.T, sh lineShape) []byte {
	spaces := sh.spaces
	if rapid.IntRange(0, 9).Draw(t, "respace") == 0 {
		spaces = slices.Clone(spaces)
		spaces[rapid.IntRange(0, len(spaces)-1).Draw(t, "at")] = " "
	}
	var sb strings.Builder
	sb.WriteString(spaces[0] + "{")
	for j, k := range sh.keys {
		ws := spaces[1+4*j:]
		if j > 0 {
			sb.WriteString(ws[0] + ",")
		}
		sb.WriteString(ws[1] + k + ws[2] + ":" + ws[3])
		vals := goodValues[k]
		if len(vals) == 0 || rapid.IntRange(0, 7).Draw(t, "any") == 0 {
			vals = shapeValues
		}
		sb.WriteString(rapid.SampledFrom(vals).Draw(t, "value"))
	}
	sb.WriteString(spaces[len(spaces)-2] + "}" + spaces[len(spaces)-1])
	line := sb.String()
	switch rapid.IntRange(0, 19).Draw(t, "damage") {
	case 0:
		line = line[:rapid.IntRange(0, len(line)).Draw(t, "cut")]
	case 1:
		line += rapid.SampledFrom([]string{"x", "}", ",", " 1", "\n"}).Draw(t, "junk")
	}
	return []byte(line)
}

// decodeText decodes line into b and returns the new row (by rttest.Quote)
// or the error.
func decodeText(d *JSONDecoder, line []byte, b *runtime.Batch) string {
	n := b.N
	if err := d.Decode(line, b); err != nil {
		if b.N != n {
			return fmt.Sprintf("error %v, and the batch grew", err)
		}
		return "error: " + err.Error()
	}
	var vals []string
	for _, v := range b.Values(b.N - 1) {
		vals = append(vals, rttest.Quote(v))
	}
	return strings.Join(vals, ",")
}

// TestShapePathMatchesGeneralPath: a run of lines, most sharing the keys
// and spacing of a few shapes (so that the remembered shape is tried
// on them), with values of every type, NULLs, escapes, missing, extra,
// repeated and re-cased keys, and damaged lines, decoded by one decoder
// with the shape path gives line by line the rows and errors (with their
// offsets and columns) of the general path alone, and the same batch.
func TestShapePathMatchesGeneralPath(t *testing.T) {
	var hits int64
	rapid.Check(t, func(t *rapid.T) {
		spaced := rapid.Bool().Draw(t, "spaced")
		var shapesOf []lineShape
		for range rapid.IntRange(1, 3).Draw(t, "shapes") {
			shapesOf = append(shapesOf, drawLineShape(t, spaced))
		}
		fast, slow := NewJSONDecoder(shapeSchema), NewJSONDecoder(shapeSchema)
		fb, sb := runtime.NewBatch(shapeSchema), runtime.NewBatch(shapeSchema)
		for range rapid.IntRange(1, 80).Draw(t, "lines") {
			line := drawShapeLine(t, rapid.SampledFrom(shapesOf).Draw(t, "shape"))
			fast.shape.pause = 0 // try the shape on every line (pauses: TestShapeThatKeepsMissingIsPaused)
			before := fast.shape.hits
			got := decodeText(fast, line, fb)
			hits += fast.shape.hits - before
			shapes = false
			want := decodeText(slow, line, sb)
			shapes = true
			if got != want {
				t.Fatalf("%s:\n shape path   %s\n general path %s", line, got, want)
			}
		}
		if err := rttest.CheckBatch(fb, shapeSchema); err != nil {
			t.Fatal(err)
		}
		if got, want := quoted(fb), quoted(sb); got != want {
			t.Fatalf("batches differ:\n%s\nwant\n%s", got, want)
		}
	})
	t.Logf("%d lines decoded by their shape", hits)
	if hits == 0 {
		t.Fatal("no line was decoded by its shape")
	}
}

// TestShapePathTakesRepeatedLines: lines of one shape after the first are
// decoded by the shape; a line of another shape is decoded by the general
// path, and its shape is then taken.
func TestShapePathTakesRepeatedLines(t *testing.T) {
	d := NewJSONDecoder(eventSchema)
	b := runtime.NewBatch(eventSchema)
	for i, line := range []string{
		`{"k":1,"v":2,"ts":"2023-11-14 22:13:20.123"}`,
		`{"k":3,"v":4,"ts":"2023-11-14 22:13:21.000"}`,
		`{"k":5,"v":null,"ts":"2023-11-14 22:13:22.5"}`,
		`{"v":6,"k":7,"ts":"2023-11-14 22:13:23.000"}`,
		`{"v":8,"k":9,"ts":"2023-11-14 22:13:24.000"}`,
	} {
		before := d.shape.hits
		if err := d.Decode([]byte(line), b); err != nil {
			t.Fatal(err)
		}
		if want := i != 0 && i != 3; (d.shape.hits > before) != want {
			t.Fatalf("line %d %s: decoded by the shape %v, want %v", i, line, !want, want)
		}
	}
	want := "1,2,1700000000123\n3,4,1700000001000\n5,NULL,1700000002500\n7,6,1700000003000\n9,8,1700000004000"
	if got := quoted(b); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestShapeOfManyKeysIsNotKept: a line of more keys than a shape holds is
// decoded by the general path every time.
func TestShapeOfManyKeysIsNotKept(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"k":1,"v":2`)
	for i := range maxShapeKeys {
		fmt.Fprintf(&sb, `,"x%d":%d`, i, i)
	}
	sb.WriteString(`,"ts":3}`)
	d := NewJSONDecoder(eventSchema)
	b := runtime.NewBatch(eventSchema)
	for range 3 {
		if err := d.Decode([]byte(sb.String()), b); err != nil {
			t.Fatal(err)
		}
	}
	if d.shape.hits != 0 || d.shape.ok {
		t.Fatalf("%d lines decoded by a shape of %d keys", d.shape.hits, maxShapeKeys+3)
	}
	if got, want := quoted(b), "1,2,3\n1,2,3\n1,2,3"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestShapesOfChangingLinesAreLearntSeldom: lines of two shapes, one after
// the other, are decoded right, and a shape is learnt for few of them
// (each learning walks the line a second time).
func TestShapesOfChangingLinesAreLearntSeldom(t *testing.T) {
	d := NewJSONDecoder(eventSchema)
	b := runtime.NewBatch(eventSchema)
	const lines = 1000
	var want []string
	for i := range lines {
		line := fmt.Sprintf(`{"k":%d,"v":1,"ts":2}`, i)
		if i%2 == 1 {
			line = fmt.Sprintf(`{"ts":2,"k":%d}`, i)
		}
		if err := d.Decode([]byte(line), b); err != nil {
			t.Fatal(err)
		}
		if b.N == runtime.DefaultBatchRows {
			b.Reset()
		}
		if i%2 == 1 {
			want = append(want, fmt.Sprintf("%d,NULL,2", i))
		} else {
			want = append(want, fmt.Sprintf("%d,1,2", i))
		}
	}
	if got := quoted(b); got != strings.Join(want[len(want)-b.N:], "\n") {
		t.Fatalf("got\n%s", got)
	}
	if limit := int64(shapeCredit + lines/shapeRefill); d.shape.learnt > limit {
		t.Fatalf("%d shapes learnt for %d lines of two shapes, want at most %d", d.shape.learnt, lines, limit)
	}
}

// TestShapeThatKeepsMissingIsPaused: when every other line differs from
// the other's shape only at its end (most of the shape's work done in
// vain), the shapes are tried on few of the lines.
func TestShapeThatKeepsMissingIsPaused(t *testing.T) {
	d := NewJSONDecoder(eventSchema)
	b := runtime.NewBatch(eventSchema)
	const lines = 2000
	for i := range lines {
		line := fmt.Sprintf(`{"k":%d,"v":1,"ts":2}`, i)
		if i%2 == 1 {
			line = fmt.Sprintf(`{"k":%d,"v":1,"ts":2,"x":3}`, i)
		}
		if err := d.Decode([]byte(line), b); err != nil {
			t.Fatal(err)
		}
		if b.N == runtime.DefaultBatchRows {
			b.Reset()
		}
	}
	// Each pause of shapePause lines follows a few misses (without the
	// pauses: about every line).
	if limit := int64(lines / 20); d.shape.misses > limit {
		t.Fatalf("shapes tried in vain on %d of %d lines, want at most %d", d.shape.misses, lines, limit)
	}
}
