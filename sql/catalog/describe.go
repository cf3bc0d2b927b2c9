package catalog

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/sluicehq/sluice/sql/parser"
)

// Describe returns a readable description of the table called name: its
// columns with their types, NULL or NOT NULL and key, its watermark, its
// options ('connector' first, then by key) and where it was defined.
func (c *Catalog) Describe(name string) (string, error) {
	t, err := c.Get(name)
	if err != nil {
		return "", err
	}
	return t.Describe(), nil
}

// Describe returns a readable description of t (see Catalog.Describe).
func (t *Table) Describe() string {
	var b strings.Builder
	if t.View != nil {
		fmt.Fprintf(&b, "View %s\n", t.Name)
	} else {
		fmt.Fprintf(&b, "Table %s\n", t.Name)
	}
	if t.DefinedAt != "" {
		fmt.Fprintf(&b, "Defined at %s\n", t.DefinedAt)
	}
	if !t.Created.IsZero() {
		fmt.Fprintf(&b, "Created %s\n", t.Created.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	b.WriteByte('\n')
	if len(t.Columns) == 0 {
		b.WriteString("Columns: defined by the query that writes to it\n")
	} else {
		var cols strings.Builder
		tw := tabwriter.NewWriter(&cols, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "column\ttype\tnull\tkey")
		rows, computed := t.Rows, t.Computed
		describeComputed := func(before int) {
			for len(computed) > 0 && computed[0].At <= before {
				c := computed[0]
				computed = computed[1:]
				typ, null := c.Type, "NULL"
				if typ == "" {
					typ = "?"
				}
				if !c.Nullable {
					null = "NOT NULL"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\tAS %s\n", c.Name, typ, null, c.Expr)
			}
		}
		for i := 0; i < len(t.Columns); i++ {
			describeComputed(i)
			c := t.Columns[i]
			if len(rows) > 0 && rows[0].First == i {
				// A ROW column, as declared.
				r := rows[0]
				rows, i = rows[1:], i+r.Count-1
				null := "NULL"
				if !r.Nullable {
					null = "NOT NULL"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t\n", r.Name, r.Type, null)
				continue
			}
			null := "NULL"
			if !c.Nullable {
				null = "NOT NULL"
			}
			key := ""
			if slices.ContainsFunc(t.PrimaryKey, func(k string) bool { return strings.EqualFold(k, c.Name) }) {
				key = "PRIMARY KEY"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Type, null, key)
		}
		describeComputed(len(t.Columns))
		tw.Flush()
		for line := range strings.Lines(cols.String()) {
			b.WriteString(strings.TrimRight(line, " \n"))
			b.WriteByte('\n')
		}
	}
	if t.View != nil {
		fmt.Fprintf(&b, "\nQuery: %s\n", strings.Join(strings.Fields(t.View.Query), " "))
	}
	if t.Watermark != nil || len(t.PrimaryKey) > 0 || len(t.PartitionKeys) > 0 {
		b.WriteByte('\n')
	}
	if w := t.Watermark; w != nil {
		fmt.Fprintf(&b, "Watermark: FOR %s AS %s", w.Column, w.Column)
		if w.Delay != 0 {
			fmt.Fprintf(&b, " - %s", parser.FormatInterval(w.Delay))
		}
		b.WriteByte('\n')
	}
	if len(t.PrimaryKey) > 0 {
		fmt.Fprintf(&b, "Primary key: (%s) NOT ENFORCED\n", strings.Join(t.PrimaryKey, ", "))
	}
	if len(t.PartitionKeys) > 0 {
		fmt.Fprintf(&b, "PARTITIONED BY (%s)\n", strings.Join(t.PartitionKeys, ", "))
	}
	if len(t.Options) > 0 {
		b.WriteString("\nOptions:\n")
		keys := make([]string, 0, len(t.Options))
		for k := range t.Options {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			switch {
			case a == b:
				return 0
			case a == "connector":
				return -1
			case b == "connector":
				return 1
			}
			return strings.Compare(a, b)
		})
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s = %s\n", parser.QuoteString(k), parser.QuoteString(t.Options[k]))
		}
	}
	return b.String()
}
