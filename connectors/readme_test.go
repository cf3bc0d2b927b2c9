package connectors_test

import (
	"flag"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/alarm"
	_ "github.com/sluicehq/sluice/connectors/blackhole"
	_ "github.com/sluicehq/sluice/connectors/dashboard"
	_ "github.com/sluicehq/sluice/connectors/datagen"
	_ "github.com/sluicehq/sluice/connectors/delivery"
	_ "github.com/sluicehq/sluice/connectors/file"
	_ "github.com/sluicehq/sluice/connectors/host"
	_ "github.com/sluicehq/sluice/connectors/kafka"
	_ "github.com/sluicehq/sluice/connectors/nexmark"
	_ "github.com/sluicehq/sluice/connectors/print"
	_ "github.com/sluicehq/sluice/connectors/queue"
	"github.com/sluicehq/sluice/connectors/sns"
	_ "github.com/sluicehq/sluice/connectors/store"
	_ "github.com/sluicehq/sluice/connectors/vehicles"
)

var update = flag.Bool("update", false, "rewrite the option tables of README.md from the connectors' specs")

// optionTable is a generated table of README.md: its marker names the
// connector.
var optionTable = regexp.MustCompile(`(?s)<!-- options: ([a-z0-9-]+) -->\n.*?<!-- end options -->`)

// statementOptions are the option specs of statements that are not
// tables, by the name their README table is marked with.
var statementOptions = map[string][]connectors.Option{"topic": sns.TopicOptionSpecs, "subscription": sns.SubscriptionOptionSpecs}

// inProse are the connectors whose options README.md describes in prose
// (in "Alarms, topics and subscriptions" and "The stream store").
var inProse = map[string]bool{"alarm": true, "host": true}

// TestREADMEOptionTables: the README's option tables are the connectors'
// specs rendered by MarkdownTable, and every connector with options has
// one.
func TestREADMEOptionTables(t *testing.T) {
	const path = "../README.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	want := optionTable.ReplaceAllFunc(doc, func(block []byte) []byte {
		name := string(optionTable.FindSubmatch(block)[1])
		specs, ok := statementOptions[name]
		if f, isConnector := connectors.Lookup(name); isConnector {
			specs, ok = f.Options(), true
		}
		if !ok {
			t.Errorf("README.md: <!-- options: %s -->: no connector %q (connectors: %v)", name, name, connectors.Names())
			return block
		}
		seen[name] = true
		return []byte("<!-- options: " + name + " -->\n" + connectors.MarkdownTable(specs) + "<!-- end options -->")
	})
	for name := range statementOptions {
		if !seen[name] {
			t.Errorf("README.md has no option table for %s: add the lines <!-- options: %s --> and <!-- end options --> "+
				"where it goes, and regenerate", name, name)
		}
	}
	for _, name := range connectors.Names() {
		if f, _ := connectors.Lookup(name); len(f.Options()) > 0 && !seen[name] && !inProse[name] {
			t.Errorf("README.md has no option table for connector %q: add the lines <!-- options: %s --> and "+
				"<!-- end options --> where it goes, and regenerate", name, name)
		}
	}
	if string(want) == string(doc) {
		return
	}
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's option tables differ from the connectors' specs; regenerate them with\n" +
		"\tgo test ./connectors -run TestREADMEOptionTables -update")
}

// TestEveryConnectorSpecIsWellFormed: in every registered connector's
// specs (and the topics' and subscriptions'), keys are unique and documented, defaults and bounds parse as
// their option's type, an enum's default is one of its values, and With
// names an option of the connector. (A slip there would show only when a
// table leaves the option out.)
func TestEveryConnectorSpecIsWellFormed(t *testing.T) {
	all := maps.Clone(statementOptions)
	for _, name := range connectors.Names() {
		f, _ := connectors.Lookup(name)
		all[name] = f.Options()
	}
	for name, specs := range all {
		keys := map[string]bool{}
		for _, o := range specs {
			keys[o.Key] = true
		}
		for _, o := range specs {
			where := name + ": option " + o.Key
			if o.Doc == "" {
				t.Errorf("%s has no doc", where)
			}
			if o.Type == connectors.Enum && o.Default != "" && !slices.Contains(o.Values, o.Default) {
				t.Errorf("%s: default %q is not one of %v", where, o.Default, o.Values)
			}
			if k, _, _ := strings.Cut(o.With, "="); o.With != "" && !keys[k] {
				t.Errorf("%s: With names no option of %s: %q", where, name, o.With)
			}
			for _, s := range []string{o.Default, o.Min, o.Max} {
				if s == "" || slices.ContainsFunc(o.Values, func(w string) bool { return o.Type != connectors.Enum && strings.EqualFold(w, s) }) {
					continue
				}
				if _, err := connectors.ParseValue(o, connectors.Table{Name: "T"}, s); err != nil {
					t.Errorf("%s: %q: %v", where, s, err)
				}
			}
		}
		if len(keys) != len(specs) {
			t.Errorf("%s: an option key appears twice", name)
		}
	}
}
