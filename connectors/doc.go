// Package connectors is the home of Sluice's sources and sinks, one package
// each: print, blackhole, gostreams, and more to come. Connectors build on
// runtime.Source and runtime.Operator; the engine imports none of them.
package connectors
