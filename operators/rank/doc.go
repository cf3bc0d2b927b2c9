// Package rank implements ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)
// filtered on the rank, as Flink runs it: Top-N, deduplication, and their
// window variants.
//
// # Top-N (New, Spec)
//
//	SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p ORDER BY o) AS rn FROM t)
//	WHERE rn <= N  -- or rn < N, rn = 1, rn BETWEEN a AND b: Spec.Start..Spec.End
//
// The planner must connect the input with runtime.Keyed on
// Spec.PartitionCols (or runtime.Global, at parallelism 1, without them).
// The input is append-only, or with Spec.UpdatingInput a retract changelog
// (+I and +U add a row, -U and -D remove one copy of an equal row: the
// earliest-arrived copy; a removal of a row not held, e.g. forgotten by the
// TTL, is ignored). No time column or watermark is needed.
//
// The output is a retract changelog whose final state is, at every batch
// boundary, the rows ranked Start..End in each partition: rows with equal
// sort keys rank by arrival, the earlier first. Per input batch and
// partition, the operator compares the top before and after the batch:
// without the rank column, a row leaving the top is -D and a row entering
// it +I; with Spec.RowNumber the rank is appended as a BIGINT column and
// each rank whose row changed is updated (-U old, +U new; -D or +I where
// the top shrinks or grows), so rows that merely shift rank emit an update.
//
// State per partition: an append-only input keeps only the End best rows
// (a row that cannot enter them is dropped at once); an updating input
// keeps every row of the partition, since a retraction can bring a lower
// row into the top — bound it with Spec.TTL. A partition's rows are a
// sorted array, so a change costs O(log n) comparisons plus moving up to n
// row ids: fine for thousands of rows per partition, not for millions.
// The partitions held are bounded by Spec.MaxGroups; those that
// retractions leave empty are dropped.
//
// Nexmark q19 (the 10 highest bids per auction, with the rank) is
// Spec{PartitionCols: [auction], Order: [{price, Desc}], Start: 1, End: 10,
// RowNumber: true, RowNumberName: "rank_number"}; q9 (the highest bid of
// each auction, over an append-only interval join) is End: 1 with Order
// [{price, Desc}, {dateTime}].
//
// # Deduplication (NewDedup, DedupSpec)
//
//	SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY t ASC|DESC) AS rn FROM t)
//	WHERE rn = 1
//
// where t is a time attribute. Keyed on DedupSpec.KeyCols; the input must
// be append-only. Processing time (DedupSpec.ProcTime): keep-first emits
// the first row of each key (+I, append-only output; its state is the set
// of keys), keep-last emits every row that replaces the previous one (+I,
// then -U old, +U new). Event time (the rowtime column TimeCol): keep-first
// keeps the row of the smallest time, keep-last of the largest; a row that
// beats the one emitted replaces it (-U, +U) whatever the watermark (ties:
// the earlier arrival for keep-first, the later for keep-last; a NULL time
// is below every other). Per batch only the final change of a key is
// emitted.
//
// Nexmark q18 (the last bid of each bidder on each auction) is
// DedupSpec{KeyCols: [bidder, auction], TimeCol: dateTime, KeepLast: true}.
//
// # Window Top-N and window deduplication (NewWindow, WindowSpec)
//
// Over the result of a window TVF or window aggregation, with the window
// bounds in the partition: the planner keys the input by the partition
// columns (any of them, with or without the window columns, so that all
// rows of one window and partition meet in one subtask; runtime.Global at
// parallelism 1 when there are none but the window columns), delivers
// append-only rows with window_start and window_end columns (TIMESTAMP(3)
// or BIGINT ms), and watermarks of the window's time attribute, which a
// window aggregation forwards after the rows it fires. Rows are ranked per (partition, window) keeping the End best;
// when the watermark reaches window_end - 1 the window's rows ranked
// Start..End are emitted once, append-only (+I), and its state is freed.
// A row whose window has already fired is late: dropped and counted in
// sluice_operator_late_rows_dropped_total. Window deduplication is
// Start = End = 1 ordered by the time attribute (DESC with
// WindowSpec.LastFirst for keep-last).
//
// All operators implement runtime.Snapshotter: a restored operator emits
// exactly what an uninterrupted one would.
package rank
