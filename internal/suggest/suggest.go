// Package suggest finds the likely intended word for a misspelled one: an
// option, column, table, keyword or flag name, for "did you mean" hints.
package suggest

import (
	"strconv"
	"strings"
)

// Nearest returns the candidate closest to s by edit distance, if any is
// close enough to be a likely typo.
func Nearest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := EditDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// EditDistance counts the insertions, deletions, substitutions and swaps of
// neighbouring bytes that turn a into b.
func EditDistance(a, b string) int {
	// d[i][j] is the distance between a[:i] and b[:j]; three rows suffice.
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// Hint returns ` (did you mean "x"?)` with the candidate nearest to s, or
// "" when none is close enough: the tail of an error about s.
func Hint(s string, candidates []string) string {
	if near := Nearest(s, candidates); near != "" {
		return " (did you mean " + strconv.Quote(near) + "?)"
	}
	return ""
}
