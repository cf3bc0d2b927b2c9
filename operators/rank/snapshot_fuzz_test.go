package rank

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// FuzzRestoreSnapshot restores arbitrary snapshot bodies (the checksum
// resealed, so that the body is parsed) into each operator: a restore
// fails with an error or leaves an operator that goes on working, and
// never panics. The seeds are real snapshots of each operator.
func FuzzRestoreSnapshot(f *testing.F) {
	topNew, _, _ := New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1}}, Start: 1, End: 3, RowNumber: true, UpdatingInput: true})
	dedupNew, _, _ := NewDedup(DedupSpec{In: dedupIn, KeyCols: []int{0}, TimeCol: 1, KeepLast: true})
	winNew, _, _ := NewWindow(WindowSpec{In: winIn, PartitionCols: []int{0}, WindowStartCol: 4, WindowEndCol: 5, Order: []SortKey{{Col: 2}}, Start: 1, End: 3})
	ops := []struct {
		mk   func() runtime.Operator
		in   *runtime.Schema
		rows [][]runtime.Value
	}{
		{topNew, topIn, [][]runtime.Value{
			{runtime.IntValue(1), runtime.IntValue(2), runtime.StringValue("x"), runtime.IntValue(3)},
			{runtime.IntValue(2), runtime.NullValue(runtime.BigInt), runtime.StringValue("yy"), runtime.IntValue(4)}}},
		{dedupNew, dedupIn, [][]runtime.Value{
			{runtime.IntValue(1), runtime.TimeValue(2), runtime.StringValue("x"), runtime.IntValue(3)},
			{runtime.IntValue(2), runtime.NullValue(runtime.Timestamp), runtime.StringValue("yy"), runtime.IntValue(4)}}},
		{winNew, winIn, [][]runtime.Value{
			{runtime.IntValue(1), runtime.TimeValue(2), runtime.IntValue(3), runtime.StringValue("x"), runtime.TimeValue(0), runtime.TimeValue(10)},
			{runtime.IntValue(2), runtime.TimeValue(12), runtime.NullValue(runtime.BigInt), runtime.StringValue("yy"), runtime.TimeValue(10), runtime.TimeValue(20)}}},
	}
	open := func(i int) runtime.Operator {
		o := ops[i].mk()
		if err := o.Open(rttest.NewContext("rank", 0, 1)); err != nil {
			f.Fatal(err)
		}
		return o
	}
	for i, k := range ops {
		o := open(i)
		b := rttest.NewBatch(k.in, k.rows...)
		if err := o.ProcessBatch(0, b, &rttest.Discard{}); err != nil {
			f.Fatal(err)
		}
		b.Release()
		data, err := o.(runtime.Snapshotter).SnapshotState(1)
		if err != nil {
			f.Fatal(err)
		}
		o.Close()
		f.Add(uint8(i), data[:len(data)-4])
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		i := int(which) % len(ops)
		data := binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, castagnoli))
		o := open(i)
		defer o.Close()
		if o.(runtime.Snapshotter).RestoreState(data) != nil {
			return
		}
		b := rttest.NewBatch(ops[i].in, ops[i].rows...)
		defer b.Release()
		_ = o.ProcessBatch(0, b, &rttest.Discard{})
		_ = o.ProcessWatermark(runtime.MaxWatermark, &rttest.Discard{})
	})
}
