package oracle

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// Format writes a row of Sluice's result of query name as the oracle
// writes its rows, so that the two compare as strings: NULL as \N,
// TimeColumns as epoch milliseconds, DecimalColumns with three decimals
// (a DOUBLE is rounded to them; a VARCHAR is taken as written), other
// numbers in decimal, and text as sqlite3 -csv writes it (in double
// quotes when empty or when it holds a space, a quote, a comma, a control
// character or a non-ASCII byte).
func Format(name string, row []runtime.Value) string {
	var b strings.Builder
	for c, v := range row {
		if c > 0 {
			b.WriteByte(',')
		}
		switch {
		case v.Null:
			b.WriteString(Null)
		case slices.Contains(DecimalColumns(name), c) && v.Type.Physical() == runtime.PhysFloat:
			b.WriteString(strconv.FormatFloat(v.F, 'f', 3, 64))
		case v.Type.IsDecimal():
			b.WriteString(v.String()) // exact, with the type's scale

		case v.Type.Physical() == runtime.PhysString:
			b.WriteString(csvText(v.S))
		case v.Type.Physical() == runtime.PhysFloat:
			b.WriteString(strconv.FormatFloat(v.F, 'f', -1, 64))
		default: // integers, booleans and timestamps (epoch ms)
			b.WriteString(strconv.FormatInt(v.I, 10))
		}
	}
	return b.String()
}

// csvText quotes s as sqlite3 -csv does.
func csvText(s string) string {
	quote := s == ""
	for i := 0; i < len(s) && !quote; i++ {
		c := s[i]
		quote = c <= ' ' || c == '"' || c == '\'' || c == ',' || c >= 0x7f
	}
	if !quote {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// Apply returns the final state of a changelog — rows with their kinds, in
// the order they were emitted — as sorted rows: +I and +U add a copy of
// their row, -U and -D remove one. Removing a row the state does not hold
// is an error, naming the row and its position.
func Apply(rows []string, kinds []runtime.RowKind) ([]string, error) {
	if len(kinds) != len(rows) && kinds != nil {
		return nil, fmt.Errorf("%d rows but %d kinds", len(rows), len(kinds))
	}
	held := map[string]int{}
	for i, r := range rows {
		k := runtime.Insert
		if kinds != nil {
			k = kinds[i]
		}
		switch k {
		case runtime.Insert, runtime.UpdateAfter:
			held[r]++
		default:
			if held[r] == 0 {
				return nil, fmt.Errorf("row %d (%v) retracts %s, which the result does not hold", i, k, r)
			}
			held[r]--
		}
	}
	var out []string
	for r, n := range held {
		for range n {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out, nil
}
