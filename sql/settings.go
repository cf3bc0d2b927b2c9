package sql

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/sql/parser"
)

// Job options a file may SET ('key' = 'value', Flink's form). A SET applies
// to the statements after it; a later SET of a key wins.
const (
	// setStateTTL is Flink's state time-to-live of non-windowed stateful
	// operators (GROUP BY without a window), in processing time: a key not
	// updated for this long is dropped. '0' turns it off (the default).
	setStateTTL = "table.exec.state.ttl"
	// setMaxStateKeys caps the keys (GROUP BY) or key × window groups
	// (windows) one subtask holds; going over fails the job with the
	// state-limit error. '0': no limit (the default).
	setMaxStateKeys = "sluice.state.max-keys"
)

var settingKeys = []string{setStateTTL, setMaxStateKeys}

// set applies SET 'key' = 'value'.
func (p *planner) set(n *parser.Set) error {
	at := func(pos parser.Pos, format string, args ...any) error {
		return &Error{File: p.o.File, Line: pos.Line, Col: pos.Col, Msg: fmt.Sprintf(format, args...)}
	}
	key := strings.ToLower(n.Key)
	switch key {
	case setStateTTL:
		d, err := connectors.ParseDuration(n.Value)
		if err == nil && d < 0 {
			err = &connectors.RangeError{Value: n.Value, Min: "0"}
		}
		if err != nil {
			return at(n.ValuePos, "SET '%s': %v", n.Key, err)
		}
		p.stateTTL = d
	case setMaxStateKeys:
		k, err := strconv.Atoi(strings.TrimSpace(n.Value))
		if err != nil || k < 0 {
			return at(n.ValuePos, "SET '%s': %q is not a number of keys (0 for no limit)", n.Key, n.Value)
		}
		p.maxStateKeys = k
	default:
		msg := fmt.Sprintf("SET: unknown option '%s'", n.Key)
		if near := suggest.Nearest(n.Key, settingKeys); near != "" {
			msg += fmt.Sprintf(" (did you mean '%s'?)", near)
		}
		return at(n.KeyPos, "%s; options: %s", msg, strings.Join(slices.Sorted(slices.Values(settingKeys)), ", "))
	}
	p.plan.Settings = append(p.plan.Settings, fmt.Sprintf("'%s' = '%s' (line %d)", key, n.Value, n.Pos.Line))
	return nil
}
