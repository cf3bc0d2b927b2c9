package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/sql/catalog"
)

// runCatalog lists or describes the tables of a catalog folder:
// sluice catalog [--catalog DIR] list | describe NAME.
func runCatalog(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	dir := fs.String("catalog", "catalog", "the catalog folder")
	rest, err := parseFlags(fs, command{Use: "catalog [--catalog DIR] list | describe NAME", MaxArgs: 2,
		About: "Lists the tables that jobs run with --catalog DIR defined, or describes one of them as CREATE TABLE."}, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usagef("say list or describe NAME")
	}
	switch {
	case rest[0] == "list" && len(rest) > 1:
		return usagef("unexpected argument %q after list", rest[1])
	case rest[0] == "describe" && len(rest) == 1:
		return usagef("describe needs a table's NAME")
	case rest[0] != "list" && rest[0] != "describe":
		hint := suggest.Hint(rest[0], []string{"list", "describe"})
		return usagef("unknown request %q%s; say list or describe NAME", rest[0], hint)
	}
	if _, err := os.Stat(*dir); err != nil {
		return fmt.Errorf("catalog folder %s: %w", *dir, err)
	}
	cat, err := catalog.Open(*dir)
	if err != nil {
		return err
	}
	switch {
	case rest[0] == "list" && len(rest) == 1:
		tables, err := cat.List()
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TABLE\tCONNECTOR\tCOLUMNS\tDEFINED AT")
		for _, t := range tables {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", t.Name, t.Options["connector"], len(t.Columns), t.DefinedAt)
		}
		tw.Flush()
		return err // tables that could not be read, after listing the others
	case rest[0] == "describe" && len(rest) == 2:
		s, err := cat.Describe(rest[1])
		if err != nil {
			return err
		}
		fmt.Print(s)
	}
	return nil
}
