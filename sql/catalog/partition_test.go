package catalog

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

const q10DDL = `CREATE TABLE nexmark_q10 (
  auction BIGINT, price BIGINT, dt STRING, hm STRING
) PARTITIONED BY (dt, hm) WITH ('connector' = 'filesystem', 'path' = 'file:///tmp/q10/', 'format' = 'csv')`

func TestPartitionKeysFromDDL(t *testing.T) {
	tb := table(t, q10DDL)
	if !reflect.DeepEqual(tb.PartitionKeys, []string{"dt", "hm"}) {
		t.Fatalf("partition keys %v", tb.PartitionKeys)
	}
	ct := tb.Connector()
	if !reflect.DeepEqual(ct.PartitionKeys, []string{"dt", "hm"}) {
		t.Fatalf("connector table partition keys %v", ct.PartitionKeys)
	}
	if cols, err := ct.PartitionColumns(); err != nil || !reflect.DeepEqual(cols, []int{2, 3}) {
		t.Fatalf("partition columns %v, %v", cols, err)
	}
	c := tb.Clone()
	c.PartitionKeys[0] = "x"
	if tb.PartitionKeys[0] != "dt" {
		t.Fatal("Clone shares the partition keys")
	}
	if table(t, clicksDDL).Connector().PartitionKeys != nil {
		t.Fatal("a table without PARTITIONED BY has partition keys")
	}
}

func TestPartitionKeysValidated(t *testing.T) {
	cols := []runtime.Field{{Name: "dt", Type: runtime.Varchar}, {Name: "hm", Type: runtime.Varchar}}
	for keys, want := range map[string]string{
		"dx":    `table "t": unknown partition column "dx" (did you mean "dt"?)`,
		"dt,DT": `table "t": duplicate partition column "DT"`,
	} {
		err := validate(&Table{Name: "t", Columns: cols, PartitionKeys: strings.Split(keys, ",")})
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", keys, err, want)
		}
	}
}

func TestDescribePartitionedBy(t *testing.T) {
	d := table(t, q10DDL).Describe()
	if !strings.Contains(d, "\nPARTITIONED BY (dt, hm)\n") {
		t.Fatalf("no PARTITIONED BY in\n%s", d)
	}
}

func TestFolderKeepsPartitionKeys(t *testing.T) {
	dir := t.TempDir()
	c1, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.Create(table(t, q10DDL), false); err != nil {
		t.Fatal(err)
	}
	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c2.Get("nexmark_q10")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.PartitionKeys, []string{"dt", "hm"}) {
		t.Fatalf("partition keys after reopening: %v", got.PartitionKeys)
	}
}
