package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/sluicehq/sluice/sql/catalog"
)

// runCatalog lists or describes the tables of a catalog folder:
// sluice catalog [--catalog DIR] list | describe NAME.
func runCatalog(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	dir := fs.String("catalog", "catalog", "the catalog folder")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sluice catalog [--catalog DIR] list | describe NAME\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return fmt.Errorf("catalog: say list or describe NAME")
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
		return nil
	}
	return fmt.Errorf("catalog: unknown request %q; say list or describe NAME", rest)
}
