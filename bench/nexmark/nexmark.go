// Package nexmark holds the Nexmark benchmark as Sluice runs it, embedded
// for `sluice bench nexmark`: Nexmark's queries q0–q22 as written
// (queries/qN.sql, each with its sink's DDL), the source DDL (ddl.sql: the
// 'nexmark' connector's table and the views person, auction and bid),
// q13's side input and Flink's published throughput per core (flink.tsv).
// Package oracle (bench/nexmark/oracle) computes the queries' results
// independently, with sqlite3.
package nexmark

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"strconv"
	"strings"
)

//go:embed queries/*.sql ddl.sql flink.tsv data/side_input.txt
var files embed.FS

// Queries returns the names of the queries, q0 … q22, in order.
func Queries() []string {
	out := make([]string, 23)
	for i := range out {
		out[i] = "q" + strconv.Itoa(i)
	}
	return out
}

// Query returns the SQL of query name ("q5"): its sink table and INSERT.
func Query(name string) (string, error) {
	b, err := files.ReadFile("queries/" + name + ".sql")
	if err != nil {
		return "", fmt.Errorf("no Nexmark query %q (queries: q0 … q22)", name)
	}
	return string(b), nil
}

// DDL returns ddl.sql: the nexmark table, then the three views.
func DDL() string {
	b, err := files.ReadFile("ddl.sql")
	if err != nil {
		panic(err) // embedded
	}
	return string(b)
}

// SideInput returns q13's side input file, data/side_input.txt.
func SideInput() []byte {
	b, err := files.ReadFile("data/side_input.txt")
	if err != nil {
		panic(err) // embedded
	}
	return b
}

// FlinkFigure is Flink's published throughput for one query, in events/s
// per core (0: none published), from Nexmark's two guides.
type FlinkFigure struct {
	Query     string
	V1PerCore float64 // GUIDE_V1.md: Throughput/Cores; 3 workers of 8 cores
	V2PerCore float64 // GUIDE_V2.md: Throughput / Cores; 4 workers of 16 cores
	Note      string  // the figures behind them
}

// FlinkHardware describes the runs of FlinkFigures (flink.tsv's comment).
func FlinkHardware() string {
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(flinkTSV()))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "# "); ok {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// FlinkFigures returns flink.tsv's rows, q0 … q22.
func FlinkFigures() ([]FlinkFigure, error) {
	var out []FlinkFigure
	sc := bufio.NewScanner(bytes.NewReader(flinkTSV()))
	header := true
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, "#") || text == "" {
			continue
		}
		cols := strings.Split(text, "\t")
		if len(cols) != 4 {
			return nil, fmt.Errorf("flink.tsv:%d: %d columns, want 4", line, len(cols))
		}
		if header {
			header = false
			continue
		}
		f := FlinkFigure{Query: cols[0], Note: cols[3]}
		for i, p := range []*float64{&f.V1PerCore, &f.V2PerCore} {
			if cols[1+i] == "-" {
				continue
			}
			v, err := strconv.ParseFloat(cols[1+i], 64)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("flink.tsv:%d: %q is not a positive number of events/s", line, cols[1+i])
			}
			*p = v
		}
		out = append(out, f)
	}
	return out, sc.Err()
}

func flinkTSV() []byte {
	b, err := files.ReadFile("flink.tsv")
	if err != nil {
		panic(err) // embedded
	}
	return b
}
