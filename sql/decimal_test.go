package sql

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestDecimalColumnThroughGroupBySum declares price DECIMAL(10, 2) on a
// JSON file source and checks that GROUP BY with SUM, MIN and MAX over it
// is exact at parallelism 1 and 3 (a DOUBLE would print 0.1 + 0.2 sums as
// 0.30000000000000004), comparing the final changelog state with a
// math/big computation.
func TestDecimalColumnThroughGroupBySum(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 14))
	var lines []string
	sums := map[int64]*big.Int{}
	mins, maxs := map[int64]int64{}, map[int64]int64{}
	for i := range 3000 {
		k := int64(i % 7)
		cents := rng.Int64N(2_000_000) - 1_000_000 // up to ±10000.00
		if i%5 == 0 {
			cents = 10 + 20*rng.Int64N(3) // 0.10, 0.30, 0.50
		}
		lines = append(lines, fmt.Sprintf(`{"k": %d, "price": %s}`, k, runtime.FormatDecimal(cents, 2)))
		if sums[k] == nil {
			sums[k], mins[k], maxs[k] = new(big.Int), cents, cents
		}
		sums[k].Add(sums[k], big.NewInt(cents))
		mins[k], maxs[k] = min(mins[k], cents), max(maxs[k], cents)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, par := range []int{1, 3} {
		run(t, fmt.Sprintf(`
CREATE TABLE bids (k BIGINT, price DECIMAL(10, 2))
WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json', 'format.fail-on-error' = 'true');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT k, SUM(price) AS total, MIN(price) AS lo, MAX(price) AS hi FROM bids GROUP BY k;`, dir), par)
		c := collected("out")
		if rows := c.Rows(); len(rows) == 0 || rows[0][1].Type != runtime.DecimalType(18, 2) || rows[0][2].Type != runtime.DecimalType(10, 2) {
			t.Fatalf("parallelism %d: want SUM DECIMAL(18, 2) and MIN DECIMAL(10, 2), got rows %v", par, rows[:min(len(rows), 1)])
		}
		final := map[string]int{}
		kinds := c.Kinds()
		for i, r := range c.Rows() {
			line := fmt.Sprintf("%s,%s,%s,%s", r[0], r[1], r[2], r[3])
			if kinds[i] == runtime.UpdateBefore || kinds[i] == runtime.Delete {
				if final[line] == 0 {
					t.Fatalf("parallelism %d: retracts %s, which it does not hold", par, line)
				}
				final[line]--
				continue
			}
			final[line]++
		}
		var got, want []string
		for line, n := range final {
			for range n {
				got = append(got, line)
			}
		}
		for k, s := range sums {
			want = append(want, fmt.Sprintf("%d,%s,%s,%s", k, runtime.FormatDecimal(s.Int64(), 2),
				runtime.FormatDecimal(mins[k], 2), runtime.FormatDecimal(maxs[k], 2)))
		}
		if strings.Join(slices.Sorted(slices.Values(got)), "\n") != strings.Join(slices.Sorted(slices.Values(want)), "\n") {
			t.Fatalf("parallelism %d: got\n%s\nwant\n%s", par, strings.Join(slices.Sorted(slices.Values(got)), "\n"), strings.Join(slices.Sorted(slices.Values(want)), "\n"))
		}
	}
}

// TestDecimalArithmeticInSQL checks that a query computes on a DECIMAL
// column exactly, with Flink's result types, and filters on it.
func TestDecimalArithmeticInSQL(t *testing.T) {
	dir := t.TempDir()
	data := `{"k": 1, "price": 423004}` + "\n" + `{"k": 2, "price": 0.10}` + "\n" + `{"k": 3, "price": -7.25}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, fmt.Sprintf(`
CREATE TABLE bids (k BIGINT, price DECIMAL(10, 2))
WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json', 'format.fail-on-error' = 'true');
CREATE TABLE out WITH ('connector' = 'append');
INSERT INTO out SELECT k, price * k AS pk, price + price AS twice, -price AS neg, CAST(price AS BIGINT) AS whole
FROM bids WHERE price > 0.05 OR k = 3;`, dir), 1)
	got := strings.Join(collected("out").Sorted(), "\n")
	want := "1,423004.00,846008.00,-423004.00,423004\n2,0.20,0.20,-0.10,0\n3,-21.75,-14.50,7.25,-7"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if typ := collected("out").Rows()[0][1].Type; typ != runtime.DecimalType(18, 2) {
		t.Fatalf("price * k is %s, want DECIMAL(18, 2)", typ)
	}
}
