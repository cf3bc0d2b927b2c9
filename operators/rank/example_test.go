package rank_test

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/operators/rank"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// Nexmark q19's shape: the highest bids of each auction with their rank,
// wired as a planner wires it, the input keyed by the partition column.
func ExampleNew() {
	bids := runtime.NewSchema(
		runtime.Field{Name: "auction", Type: runtime.BigInt},
		runtime.Field{Name: "price", Type: runtime.BigInt},
	)
	newOp, out, err := rank.New(rank.Spec{
		In:            bids,
		PartitionCols: []int{0},
		Order:         []rank.SortKey{{Col: 1, Desc: true}},
		Start:         1, End: 2, // rank_number <= 2
		RowNumber: true, RowNumberName: "rank_number",
	})
	if err != nil {
		panic(err)
	}
	bid := func(a, p int64) []runtime.Value { return []runtime.Value{runtime.IntValue(a), runtime.IntValue(p)} }
	g := runtime.NewGraph("q19")
	src := g.AddSource("bids", bids, 1, rttest.Source(bids, rttest.Deal([][]runtime.Value{
		bid(1, 10), bid(1, 30), bid(1, 20),
	}, 1, 1)), runtime.WatermarkStrategy{TimeColumn: -1})
	top := g.AddOperator("top", out, 1, 1, newOp)
	g.Connect(src, top, runtime.Keyed, 0)
	c, sink := rttest.NewCollector(out)
	g.Connect(top, g.AddOperator("sink", out, 1, 1, sink), runtime.Global)
	if err := runtime.Run(context.Background(), g, runtime.Options{}); err != nil {
		panic(err)
	}
	for _, row := range c.Changelog() {
		fmt.Println(row)
	}
	// Output:
	// +I1,10,1
	// -U1,10,1
	// +U1,30,1
	// +I1,10,2
	// -U1,10,2
	// +U1,20,2
}
