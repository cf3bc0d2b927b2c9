package delivery

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// TestPartitionedByRefused: a delivery table with PARTITIONED BY is refused,
// saying to partition with the prefix.
func TestPartitionedByRefused(t *testing.T) {
	tb := connectors.Table{Name: "lake", TimeColumn: -1, PartitionKeys: []string{"dt"},
		Schema:  runtime.NewSchema(runtime.Field{Name: "id", Type: runtime.BigInt}, runtime.Field{Name: "dt", Type: runtime.Varchar}),
		Options: map[string]string{"destination": "file://" + t.TempDir()}}
	_, _, err := factory{}.NewSink(tb)
	if err == nil || !strings.Contains(err.Error(), "connector delivery does not support PARTITIONED BY (dt); partition objects with 'prefix'") {
		t.Fatalf("got %v", err)
	}
}
