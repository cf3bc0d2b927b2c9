package sluice_test

import (
	"context"
	"os"
	"strings"
	"testing"

	_ "github.com/sluicehq/sluice/apps/cpualarm" // the 'fleet' connector
	_ "github.com/sluicehq/sluice/connectors/alarm"
	_ "github.com/sluicehq/sluice/connectors/datagen"
	_ "github.com/sluicehq/sluice/connectors/print"
	_ "github.com/sluicehq/sluice/connectors/queue"
	"github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/store/server"
)

// readmeSections splits README.md into its "## " sections: heading → body
// (the heading's own line excluded), and the headings in order. A section's
// body starts at README.md line first[heading].
func readmeSections(t *testing.T) (sections map[string]string, order []string, first map[string]int) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	sections, first = map[string]string{}, map[string]int{"": 1}
	cur, inFence := "", false
	for n, line := range strings.SplitAfter(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if !inFence && strings.HasPrefix(line, "## ") {
			cur = strings.TrimSpace(strings.TrimPrefix(line, "## "))
			order = append(order, cur)
			first[cur] = n + 2
			continue
		}
		sections[cur] += line
	}
	return sections, order, first
}

// fencedCommands returns the command lines of the fenced code blocks of
// text: every non-blank line that is not a comment, with a trailing
// comment cut off.
func fencedCommands(text string) []string {
	var cmds []string
	inFence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if !inFence {
			continue
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cmds = append(cmds, line)
	}
	return cmds
}

// TestReadmeQuickStartIsTwoCommands: the README's Quick start stays two
// commands, the demo and the tests, and warns that the first go run
// compiles for a while before it prints anything.
func TestReadmeQuickStartIsTwoCommands(t *testing.T) {
	sections, _, _ := readmeSections(t)
	quick, ok := sections["Quick start"]
	if !ok {
		t.Fatal(`README.md has no "## Quick start" section`)
	}
	got := fencedCommands(quick)
	want := []string{"go run ./cmd/sluice demo", "go test ./..."}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Quick start commands:\n%s\nwant exactly:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(quick, "minute") || !strings.Contains(quick, "compiles") {
		t.Errorf("Quick start does not say that the first go run compiles for a minute or two:\n%s", quick)
	}
}

// TestReadmeTutorialsUseTheBuiltBinary: outside the Quick start the README
// runs ./sluice, built once with go build, never go run ./cmd/sluice (go run
// keeps kill -TERM from reaching the program, so no savepoint is taken, and
// exits 1 on Ctrl-C).
func TestReadmeTutorialsUseTheBuiltBinary(t *testing.T) {
	sections, order, first := readmeSections(t)
	built := false
	for _, name := range order {
		if name == "Quick start" {
			continue
		}
		body := sections[name]
		for i, line := range strings.Split(body, "\n") {
			if strings.Contains(line, "go run ./cmd/sluice") {
				t.Errorf("README.md:%d (section %q): %q: use ./sluice (built with go build -o sluice ./cmd/sluice)", first[name]+i, name, line)
			}
		}
		for _, cmd := range fencedCommands(body) {
			if cmd == "go build -o sluice ./cmd/sluice" {
				built = true
			}
			if strings.HasPrefix(cmd, "./sluice") && !built {
				t.Errorf("README.md, section %q: %q comes before any go build -o sluice ./cmd/sluice", name, cmd)
			}
		}
	}
	if !built {
		t.Error("README.md never shows go build -o sluice ./cmd/sluice")
	}
}

// TestReadmeJobFilesCompile: the README's SQL job files (the ```sql blocks
// that start with a "-- name.sql" comment, which a reader saves under that
// name and runs, with --store-dir where they use the embedded store) plan
// without error, so a renamed option or a changed rule cannot leave an
// example behind.
func TestReadmeJobFilesCompile(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store.UseEmbedded(srv)
	t.Cleanup(func() {
		store.UseEmbedded(nil)
		if err := srv.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	t.Chdir(t.TempDir()) // files the jobs name (alarms.jsonl) land there
	jobs := 0
	for _, block := range strings.Split(string(b), "```sql\n")[1:] {
		src, _, _ := strings.Cut(block, "```")
		first, _, _ := strings.Cut(src, "\n")
		name, ok := strings.CutPrefix(first, "-- ")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, ":")
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		jobs++
		plan, err := sql.Compile(src, sql.Options{File: name, Parallelism: 2})
		if err != nil {
			t.Errorf("README.md's %s: %v", name, err)
			continue
		}
		for _, topic := range plan.Topics {
			topic.Close(context.Background())
		}
		if plan.Inserts == 0 {
			t.Errorf("README.md's %s: no INSERT INTO planned", name)
		}
	}
	if jobs < 3 {
		t.Errorf("README.md: %d SQL job files (job.sql, alarm.sql, live.sql …), want at least 3", jobs)
	}
}
