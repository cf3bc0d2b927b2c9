package connectors

import (
	"fmt"
	"strings"
)

// MarkdownTable renders option specs (a connector's Options) as the
// README's table: key, default and meaning, one row per option in order.
func MarkdownTable(specs []Option) string {
	var b strings.Builder
	b.WriteString("| key | default | meaning |\n| --- | --- | --- |\n")
	for _, o := range specs {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", o.Key, cell(o.defaultDoc()), cell(o.meaning()))
	}
	return b.String()
}

// defaultDoc is how the docs show the default of o.
func (o Option) defaultDoc() string {
	switch {
	case o.Required:
		return "required"
	case o.DefaultDoc != "":
		return o.DefaultDoc
	case o.Default != "":
		return "`" + o.Default + "`"
	}
	return "—"
}

// meaning is o's doc, with where it applies and its range.
func (o Option) meaning() string {
	s := o.Doc
	var where []string
	switch o.Use {
	case SourceOnly:
		where = append(where, "source")
	case SinkOnly:
		where = append(where, "sink")
	}
	if o.With != "" {
		key, want, _ := strings.Cut(o.With, "=")
		where = append(where, fmt.Sprintf("with `%s` = `%s`", key, strings.ReplaceAll(want, "|", "` or `")))
	}
	if len(where) > 0 {
		s = strings.Join(where, ", ") + ": " + s
	}
	switch {
	case o.Min != "" && o.Max != "":
		s += fmt.Sprintf(" (%s–%s)", o.Min, o.Max)
	case o.Min != "" && o.Min != "0": // not negative goes without saying
		s += fmt.Sprintf(" (at least %s)", o.Min)
	case o.Max != "":
		s += fmt.Sprintf(" (at most %s)", o.Max)
	}
	return s
}

// cell escapes the pipes of a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
