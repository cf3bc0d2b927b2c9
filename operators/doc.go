// Package operators holds Sluice's operators, one package per concept:
//
//   - expr: compiled scalar expressions (arithmetic with overflow checks,
//     comparisons, CAST, LIKE, functions) over batches;
//   - calc: project and filter;
//   - agg: aggregate functions (COUNT, SUM, MIN, MAX, AVG, COUNT DISTINCT)
//     and the group tables that hold them;
//   - window: tumbling, hopping and session windows in event time, with late
//     rows dropped or sent to a side output;
//   - groupagg: GROUP BY without a window, an updating result (a changelog
//     of -U/+U rows), with state TTL;
//   - join: the event-time interval join of two keyed streams;
//   - alarm: CloudWatch-style threshold alarms with a notification on every
//     state change;
//   - process: keyed process functions with value, map and list state and
//     timers.
//
// Every operator implements runtime.Operator; those with state snapshot it
// at checkpoint barriers (operators/internal/snap has the shared encoding)
// and restore it when a job starts from a checkpoint or savepoint.
package operators
