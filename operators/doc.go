// Package operators holds Sluice's operators, one package per concept:
// expr (compiled expressions), calc (project/filter), agg (aggregate
// functions and group tables), window (tumbling, hopping and session
// windows), join (interval join) and process (keyed process functions with
// state and timers).
package operators
