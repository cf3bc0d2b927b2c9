package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/sns"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/parser"
)

// Session plans statements a piece at a time, each piece seeing what the
// earlier ones defined — the catalog's tables, the topics and the SET
// options — as an interactive shell (sluice sql) needs. It is not safe for
// concurrent use.
type Session struct {
	o            Options
	topics       map[string]*sns.Topic
	stateTTL     time.Duration
	maxStateKeys int
	settings     []string
	optionPos    map[string]optionPlaces // the tables' options, by table (planner.optionPos)
}

// withDefaults checks o and fills in what it may leave out: the catalog
// (a new one) and Out (discarded).
func (o Options) withDefaults() (Options, error) {
	if o.Parallelism <= 0 {
		return o, errors.New("sql: Options.Parallelism must be positive")
	}
	if o.Catalog == nil {
		o.Catalog = catalog.New()
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o, nil
}

// NewSession starts a session; o is as for Compile (o.File is not used:
// each Compile names its piece).
func NewSession(o Options) (*Session, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Session{o: o, topics: map[string]*sns.Topic{}, optionPos: map[string]optionPlaces{}}, nil
}

// Compile plans the statements of src as Compile does, within the session:
// the tables, topics and SET options of earlier pieces apply, and what src
// defines applies to later ones (also when a later statement of src fails).
// file names src in errors. The plan's Topics are empty: the session's
// topics live until Close, so Plan.Close is not needed.
func (s *Session) Compile(file, src string) (*Plan, error) {
	o := s.o
	o.File = file
	p := &planner{o: o, g: runtime.NewGraph(jobName(file)), topics: s.topics,
		stateTTL: s.stateTTL, maxStateKeys: s.maxStateKeys, optionPos: s.optionPos, session: true}
	plan := &Plan{Parallelism: o.Parallelism, Settings: slices.Clone(s.settings)}
	p.plan = plan
	stmts, err := parser.ParseScript(src)
	if err != nil {
		return nil, p.errAt(parser.Statement{Line: 1, Col: 1}, err)
	}
	for _, st := range stmts {
		err := p.statement(st)
		if p.topics != nil {
			s.topics = p.topics
		}
		if err != nil {
			return nil, err
		}
		s.stateTTL, s.maxStateKeys, s.settings = p.stateTTL, p.maxStateKeys, slices.Clone(plan.Settings)
	}
	if o.StateTTL > 0 {
		plan.Settings = append(plan.Settings, fmt.Sprintf("'%s' = '%v' (--state-ttl)", setStateTTL, o.StateTTL))
	}
	if p.inserts > 0 {
		plan.Graph, plan.Inserts = p.g, p.inserts
	}
	return plan, nil
}

// SetParallelism sets the default parallelism of the pieces compiled
// after (n > 0; others are ignored).
func (s *Session) SetParallelism(n int) {
	if n > 0 {
		s.o.Parallelism = n
	}
}

// Settings are the options SET so far, as "'key' = 'value' (where)" lines.
func (s *Session) Settings() []string { return slices.Clone(s.settings) }

// SettingKeys are the keys SET accepts.
func SettingKeys() []string { return slices.Sorted(slices.Values(settingKeys)) }

// Reset takes a SET option back to its default; key "" resets all of them.
// It returns an error naming the keys for a key SET does not know.
func (s *Session) Reset(key string) error {
	key = strings.ToLower(key)
	switch key {
	case "":
		s.stateTTL, s.maxStateKeys, s.settings = 0, 0, nil
		return nil
	case setStateTTL:
		s.stateTTL = 0
	case setMaxStateKeys:
		s.maxStateKeys = 0
	default:
		return fmt.Errorf("RESET: unknown option '%s'; options: %s", key, strings.Join(SettingKeys(), ", "))
	}
	s.settings = slices.DeleteFunc(s.settings, func(l string) bool { return strings.HasPrefix(l, "'"+key+"'") })
	return nil
}

// Close delivers what the session's topics still hold, as Plan.Close does.
func (s *Session) Close(ctx context.Context) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(s.topics)) {
		errs = append(errs, s.topics[name].Close(ctx))
	}
	return errors.Join(errs...)
}

// collect sends the rows of a bare SELECT to Options.Collect's operator,
// one subtask.
func (p *planner) collect(schema *runtime.Schema, updating bool, outs []*stream) {
	id := p.g.AddOperator("sink collect", schema, 1, 1, p.o.Collect(schema, updating))
	for _, s := range outs {
		if s.par == 1 {
			p.g.Connect(s.id, id, runtime.Forward)
		} else {
			p.g.Connect(s.id, id, runtime.Global)
		}
	}
}
