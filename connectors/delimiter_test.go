package connectors_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// TestCSVDelimiterAgreesAcrossConnectors: delivery, file and kafka take
// the same 'csv.field-delimiter' values (tab, \t, \|, one character) and
// refuse the same ones with the same error.
func TestCSVDelimiterAgreesAcrossConnectors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	schema := runtime.NewSchema(runtime.Field{Name: "v", Type: runtime.Varchar, Nullable: true})
	base := map[string]map[string]string{
		"delivery": {"destination": "file://" + dir, "format": "csv"},
		"file":     {"path": in, "format": "csv"},
		"kafka":    {"topic": "t", "properties.bootstrap.servers": "127.0.0.1:9092", "format": "csv"},
	}
	table := func(name, delim string) connectors.Table {
		opts := map[string]string{"csv.field-delimiter": delim}
		for k, v := range base[name] {
			opts[k] = v
		}
		return connectors.Table{Name: "T", Schema: schema, Options: opts, TimeColumn: -1}
	}
	build := func(name, delim string) error {
		tab := table(name, delim)
		f, _ := connectors.Lookup(name)
		_, _, err := f.(connectors.Sink).NewSink(tab)
		if src, ok := f.(connectors.Source); ok && err == nil {
			_, _, err = src.NewSource(tab)
		}
		return err
	}
	for _, name := range []string{"delivery", "file", "kafka"} {
		for delim, want := range map[string]byte{"tab": '\t', `\t`: '\t', `\|`: '|', ";": ';'} {
			if err := build(name, delim); err != nil {
				t.Errorf("%s: delimiter %q: %v", name, delim, err)
			}
			f, _ := connectors.Lookup(name)
			v, err := connectors.Parse(f, table(name, delim))
			if err != nil {
				t.Fatal(err)
			}
			if v.Delimiter("csv.field-delimiter") != want {
				t.Errorf("%s: delimiter %q read as %q, want %q", name, delim, v.Delimiter("csv.field-delimiter"), want)
			}
		}
		const want = `table T: option "csv.field-delimiter": field delimiter "ab" is not one character`
		if err := build(name, "ab"); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: delimiter \"ab\": %v, want %s…", name, err, want)
		}
	}
}
