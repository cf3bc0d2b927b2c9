package dashboard

import (
	"strings"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

// factory is the 'dashboard' connector (a sink into Default).
type factory struct{}

func (factory) Name() string { return "dashboard" }

var options = []connectors.Option{
	{Key: "chart", Type: connectors.Enum, Required: true, Values: []string{"line", "bar", "table", "number", "map"}, Doc: "`line`, `bar`, `table`, `number` or `map`: how the page draws the rows"},
	{Key: "title", DefaultDoc: "the table name", Doc: "the dashboard's title"},
	{Key: "x", Type: connectors.Column, With: "chart=line|bar", Doc: "the horizontal axis: a TIMESTAMP or numeric column (line), any column (bar)"},
	{Key: "y", Type: connectors.Columns, With: "chart=line|bar", Doc: "the numeric columns plotted, separated by commas"},
	{Key: "series", Type: connectors.Column, With: "chart=line|bar", Doc: "a column whose values split the rows into series"},
	{Key: "cell", Type: connectors.Column, With: "chart=map", Doc: "a VARCHAR column naming each row's map cell (instead of lat and lon)"},
	{Key: "lat", Type: connectors.Column, With: "chart=map", Doc: "a numeric latitude column (with lon)"},
	{Key: "lon", Type: connectors.Column, With: "chart=map", Doc: "a numeric longitude column (with lat)"},
	{Key: "value", Type: connectors.Column, With: "chart=map|number", Doc: "the numeric column shown (map: each cell's value; number: the figure)"},
	{Key: "retain", Default: "1000 rows", Parse: parseRetain, Doc: "what is kept: `N rows` (1 to 1000000; beyond it the oldest rows go), `N windows` (line or bar: the rows of the last N values of x, e.g. of window_end) or a time span such as `10 min` (the rows whose x, a TIMESTAMP, is within it of the newest x; without a TIMESTAMP x, the rows that arrived within it); never more than 1000000 rows"},
	{Key: "key", Type: connectors.Columns, Doc: "columns whose latest row replaces the previous one of the same key (default: the PRIMARY KEY, else every row is kept)"},
}

func (factory) Options() []connectors.Option { return options }

// AcceptsUpdates: -U and -D rows remove what +I and +U rows added.
func (factory) AcceptsUpdates(connectors.Table) bool { return true }

func (factory) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	d, err := build(t)
	if err != nil {
		return nil, 0, err
	}
	Default.add(d)
	// One subtask: a dashboard is one state, and an updating result's
	// changes must reach it in the order they were made (a Top-N's -D and
	// +I are different rows, which parallel subtasks would apply in any
	// order, showing 11 rows of a top 10 for a moment).
	return func() runtime.Operator { return &sink{d: d} }, 1, nil
}

// build checks a table's options and returns its (empty) dashboard.
func build(t connectors.Table) (*Dashboard, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, err
	}
	if t.Schema == nil {
		return nil, connectors.Errorf(t.Name, "a dashboard needs the table's columns")
	}
	typeOf := func(key string) runtime.Type { return t.Schema.Fields[o.Column(key)].Type }
	numeric := func(key string) error {
		if ty := typeOf(key); !ty.Numeric() && ty.Kind() != runtime.Decimal {
			return o.Errorf(key, "column %s is %s, not a number", t.Schema.Fields[o.Column(key)].Name, ty)
		}
		return nil
	}
	chart := o.Enum("chart")
	switch chart {
	case "line", "bar":
		for _, k := range []string{"x", "y"} {
			if !o.Has(k) {
				return nil, o.Errorf(k, "a %s chart needs it", chart)
			}
		}
		if ty := typeOf("x"); chart == "line" && ty != runtime.Timestamp && !ty.Numeric() && ty.Kind() != runtime.Decimal {
			return nil, o.Errorf("x", "column %s is %s, not a TIMESTAMP or number", t.Schema.Fields[o.Column("x")].Name, ty)
		}
		for _, c := range o.Columns("y") {
			if ty := t.Schema.Fields[c].Type; !ty.Numeric() && ty.Kind() != runtime.Decimal {
				return nil, o.Errorf("y", "column %s is %s, not a number", t.Schema.Fields[c].Name, ty)
			}
		}
	case "map":
		if !o.Has("value") {
			return nil, o.Errorf("value", "a map chart needs it")
		}
		if err := numeric("value"); err != nil {
			return nil, err
		}
		switch {
		case o.Has("cell") && (o.Has("lat") || o.Has("lon")):
			return nil, o.Errorf("cell", "give either cell or lat and lon")
		case o.Has("cell"):
			if ty := typeOf("cell"); ty != runtime.Varchar {
				return nil, o.Errorf("cell", "column %s is %s, not a VARCHAR", t.Schema.Fields[o.Column("cell")].Name, ty)
			}
		case o.Has("lat") != o.Has("lon"):
			return nil, o.Errorf("lat", "lat and lon go together")
		case o.Has("lat"):
			for _, k := range []string{"lat", "lon"} {
				if err := numeric(k); err != nil {
					return nil, err
				}
			}
		default:
			return nil, o.Errorf("cell", "a map chart needs cell, or lat and lon")
		}
	case "number":
		if !o.Has("value") {
			return nil, o.Errorf("value", "a number chart needs it")
		}
		if err := numeric("value"); err != nil {
			return nil, err
		}
	}
	var key []int
	if o.Has("key") {
		key = o.Columns("key")
	} else if len(t.PrimaryKey) > 0 {
		for _, k := range t.PrimaryKey {
			i := t.Schema.Index(k)
			if i < 0 {
				return nil, connectors.Errorf(t.Name, "PRIMARY KEY column %q is not a column", k)
			}
			key = append(key, i)
		}
	}
	title := t.Name
	if o.Has("title") {
		title = o.String("title")
	}
	m := Meta{ID: strings.ToLower(t.Name), Title: title, Chart: chart, Options: map[string]string{}}
	for k, v := range t.Options {
		if k != "connector" {
			m.Options[k] = v
		}
	}
	types := make([]runtime.Type, len(t.Schema.Fields))
	for i, f := range t.Schema.Fields {
		m.Columns = append(m.Columns, Column{Name: f.Name, Type: f.Type.String()})
		types[i] = f.Type
	}
	r := o.Value("retain").(retain)
	xCol, valueCol := -1, -1
	if o.Has("x") {
		xCol = o.Column("x")
	}
	if chart == "number" {
		valueCol = o.Column("value")
	}
	if r.windows > 0 {
		if xCol < 0 {
			return nil, o.Errorf("retain", "'N windows' keeps the rows of the last N values of x: a line or bar chart's x")
		}
		if ty := types[xCol]; ty != runtime.Timestamp && !ty.Numeric() && ty.Kind() != runtime.Decimal {
			return nil, o.Errorf("retain", "'N windows' needs x to be a TIMESTAMP or number; column %s is %s", t.Schema.Fields[xCol].Name, ty)
		}
	}
	return newDashboard(m, types, key, r, xCol, valueCol), nil
}

// sink is one subtask of a dashboard sink.
type sink struct {
	runtime.Base
	d    *Dashboard
	open bool
	s    scratch
}

func (s *sink) Open(ctx *runtime.Context) error {
	job := ""
	if ctx != nil {
		job = ctx.Job
	}
	s.d.opened(job)
	s.open = true
	return nil
}

func (s *sink) Close() error {
	if s.open {
		s.open = false
		s.d.closedSink()
	}
	return nil
}

func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	s.d.writeWith(b, &s.s)
	return nil
}
