package cpualarm

import (
	"testing"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// TestFleetOptionErrorsNameTheOption: the fleet's options are checked by
// their specs, with errors naming the table and option.
func TestFleetOptionErrorsNameTheOption(t *testing.T) {
	schema := runtime.NewSchema(runtime.Field{Name: "host", Type: runtime.Varchar}, runtime.Field{Name: "cpu", Type: runtime.Double})
	f := func(opts map[string]string, want string) {
		t.Helper()
		_, _, err := fleetFactory{}.NewSource(connectors.Table{Name: "fleet", Schema: schema, Options: opts, TimeColumn: -1})
		if err == nil || err.Error() != want {
			t.Errorf("%v:\n got  %v\n want %s", opts, err, want)
		}
	}
	f(map[string]string{"hosts": "0"}, `table fleet: option "hosts": "0" must be between 1 and 100000`)
	f(map[string]string{"hosts": "2", "spiking": "3"}, `table fleet: option "spiking": 3 is more than the 2 hosts`)
	f(map[string]string{"interval": "fast"}, `table fleet: option "interval": "fast" is not a duration (e.g. 500ms, 10 s, 1 min)`)
	f(map[string]string{"sed": "1"}, `table fleet: connector "fleet" has no option "sed" (did you mean "seed"?); its options: hosts, spiking, interval, seed`)
	newSrc, par, err := fleetFactory{}.NewSource(connectors.Table{Name: "fleet", Schema: schema, Options: map[string]string{"hosts": "4", "spiking": "4"}, TimeColumn: -1})
	if err != nil || par != 1 {
		t.Fatalf("NewSource: %d subtasks, %v", par, err)
	}
	if c := newSrc().(*fleet).cfg; c.hosts != 4 || c.spiking != 4 || c.interval.Seconds() != 1 || c.seed != 1 {
		t.Errorf("config %+v", c)
	}
}
