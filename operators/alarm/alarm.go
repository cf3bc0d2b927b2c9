// Package alarm is the threshold alarm operator: metric alarms with the
// semantics of CloudWatch's — a period, EvaluationPeriods (N),
// DatapointsToAlarm (M), a comparison operator and a threshold, a choice of
// how to treat missing data, the states OK, ALARM and INSUFFICIENT_DATA —
// evaluated in event time, with a notification on every state change.
//
// One alarm instance exists per distinct value of the dimension columns; it
// starts in INSUFFICIENT_DATA. Every input row is the datapoint of one
// period of one instance (typically the output of a tumbling window: the
// window end and an aggregate); a later row for the same instance and
// period replaces the earlier one. When the watermark reaches E−1 for a
// period end E, every instance is evaluated for E and for every period
// since its last evaluation, so that periods without a row are noticed.
//
// # Evaluation rules
//
// The evaluation of period E looks at the N periods ending at E. Let D be
// the number of them with a datapoint and B the number of those that
// breach the threshold:
//
//	missing       D = 0: INSUFFICIENT_DATA; otherwise ALARM when B ≥ M, or
//	              when D < M and every datapoint breaches (B = D); else OK
//	notBreaching  ALARM when B ≥ M, else OK
//	breaching     ALARM when B + (N−D) ≥ M, else OK
//	ignore        no datapoint for E itself: the state is kept; otherwise as
//	              missing
//
// These follow CloudWatch's table of how missing data is treated (for an
// alarm with N = M = 3; "0" a datapoint within the threshold, "X" one
// breaching it, "-" a missing one; the newest is on the right):
//
//	datapoints  MISSING            IGNORE         BREACHING  NOT BREACHING
//	0 - X - X   OK                 OK             OK         OK
//	- - - - 0   OK                 OK             OK         OK
//	- - - - -   INSUFFICIENT_DATA  keep state     ALARM      OK
//	0 X X - X   ALARM              ALARM          ALARM      ALARM
//	- - X - -   ALARM              keep state     ALARM      OK
//
// CloudWatch reads a wider evaluation range than the N periods and, when it
// finds at least N datapoints there, evaluates the most recent N of them
// without applying the treatment of missing data. Sluice looks at exactly
// the N periods ending at E, so two rows of the table come out differently:
// "0 - X - X", whose last three periods hold "X - X", goes to ALARM under
// missing, ignore and breaching; "0 X X - X" gives OK under notBreaching.
// With fewer than M datapoints, missing alarms when every datapoint present
// breaches, as in the table's last row; fewer than M datapoints none of
// which breaches give OK, as in its second row.
//
// Periods before an instance's first datapoint count as missing periods.
//
// # Period
//
// Config.Period fixes the length of a period. When it is zero the period is
// inferred from the data: once the watermark has passed two distinct period
// ends it is the smallest positive gap between the period ends seen up to
// the watermark, and it does not change afterwards. Period ends lie a
// multiple of the period away from the first period end seen; rows off that
// grid are dropped and counted as bad records, as are rows without a period
// end. Rows for a period that has already been evaluated (its end − 1 at or
// behind the watermark) are late: they are dropped and counted as late rows.
// At the end of input every instance is evaluated up to the last period end
// seen, not beyond.
//
// # Notifications
//
// A Notification is handed to the Publisher on every state change of an
// instance, in the operator's goroutine; an error from Publish fails the
// operator. When a watermark completes several periods, the instances are
// taken in the order of their first rows, each through its periods in
// order. The Body is JSON like the message CloudWatch sends to SNS, its
// NewStateReason worded as CloudWatch's: the datapoints on the side of the
// new state, newest first, each with the end of its period; the minimum
// count for ALARM is M, for OK N−M+1.
package alarm

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// Comparison is an alarm's comparison operator: how a datapoint is compared
// with the threshold to tell whether it breaches.
type Comparison int

// The comparison operators, named as CloudWatch's ComparisonOperator.
const (
	GreaterThanThreshold Comparison = iota
	GreaterThanOrEqualToThreshold
	LessThanThreshold
	LessThanOrEqualToThreshold
)

var comparisonNames = [...]string{
	"GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold",
}

// comparisonWords are the words of NewStateReason, as CloudWatch writes
// them.
var comparisonWords = [...]string{"greater than", "greater than or equal to", "less than", "less than or equal to"}

// ParseComparison returns the comparison operator named s, spelt as
// CloudWatch's ComparisonOperator.
func ParseComparison(s string) (Comparison, error) {
	for i, n := range comparisonNames {
		if s == n {
			return Comparison(i), nil
		}
	}
	return 0, fmt.Errorf("comparison-operator %q: want one of GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold, LessThanOrEqualToThreshold", s)
}

func (c Comparison) String() string {
	if c >= 0 && int(c) < len(comparisonNames) {
		return comparisonNames[c]
	}
	return fmt.Sprintf("Comparison(%d)", int(c))
}

// breaches reports whether datapoint v breaches threshold t.
func (c Comparison) breaches(v, t float64) bool {
	switch c {
	case GreaterThanThreshold:
		return v > t
	case GreaterThanOrEqualToThreshold:
		return v >= t
	case LessThanThreshold:
		return v < t
	default:
		return v <= t
	}
}

// TreatMissing says how periods without a datapoint are evaluated.
type TreatMissing int

// The ways of treating missing data, as CloudWatch's TreatMissingData.
const (
	Missing TreatMissing = iota
	NotBreaching
	Breaching
	Ignore
)

var treatNames = [...]string{"missing", "notBreaching", "breaching", "ignore"}

// ParseTreatMissing returns the treatment named s: "missing",
// "notBreaching", "breaching" or "ignore", spelt as CloudWatch's
// TreatMissingData.
func ParseTreatMissing(s string) (TreatMissing, error) {
	for i, n := range treatNames {
		if s == n {
			return TreatMissing(i), nil
		}
	}
	return 0, fmt.Errorf("treat-missing-data %q: want one of missing, notBreaching, breaching, ignore", s)
}

func (t TreatMissing) String() string {
	if t >= 0 && int(t) < len(treatNames) {
		return treatNames[t]
	}
	return fmt.Sprintf("TreatMissing(%d)", int(t))
}

// Config describes one alarm and the input columns it reads.
type Config struct {
	Name, Description string
	// MetricName is reported in the notification's Trigger.
	MetricName string
	// Dimensions are the names of the dimensions, DimCols their input
	// columns (of any type; values are compared as SQL prints them). Each
	// distinct combination of values is an alarm instance of its own.
	Dimensions []string
	DimCols    []int
	// PeriodCol is the input column (TIMESTAMP) holding the end of the
	// period a row is the datapoint of.
	PeriodCol int
	// MetricCol is the input column (DOUBLE, BIGINT or INT) holding the
	// datapoint; a NULL is no datapoint.
	MetricCol int
	// Period is the length of a period; 0 infers it from the data.
	Period            time.Duration
	Comparison        Comparison
	Threshold         float64
	EvaluationPeriods int // N ≥ 1
	DatapointsToAlarm int // M in 1..N; 0 means N
	TreatMissing      TreatMissing
	// MaxInstances bounds the alarm instances (distinct dimension values)
	// held; more fail the job with an error matching state.ErrStateLimit.
	// 0 means DefaultMaxInstances.
	MaxInstances int
}

// DefaultMaxInstances is MaxInstances when it is 0.
const DefaultMaxInstances = 1_000_000

// ErrConfig is matched (errors.Is) by every error of Validate.
var ErrConfig = errors.New("invalid alarm")

// Validate reports the first thing wrong with c, naming its option.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrConfig, c.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: alarm-name is empty", ErrConfig)
	case len(c.Dimensions) != len(c.DimCols):
		return bad("dimensions: %d names for %d columns", len(c.Dimensions), len(c.DimCols))
	case c.PeriodCol < 0:
		return bad("period column %d is negative", c.PeriodCol)
	case c.MetricCol < 0:
		return bad("metric column %d is negative", c.MetricCol)
	case c.Period < 0 || c.Period%time.Millisecond != 0:
		return bad("period %v: want a positive whole number of milliseconds, or 0 to infer it", c.Period)
	case c.Comparison < 0 || int(c.Comparison) >= len(comparisonNames):
		return bad("comparison-operator %d is unknown", int(c.Comparison))
	case math.IsNaN(c.Threshold) || math.IsInf(c.Threshold, 0):
		return bad("threshold %v is not a finite number", c.Threshold)
	case c.EvaluationPeriods < 1 || c.EvaluationPeriods > maxEvaluationPeriods:
		return bad("evaluation-periods %d: want 1 to %d", c.EvaluationPeriods, maxEvaluationPeriods)
	case c.DatapointsToAlarm < 0 || c.DatapointsToAlarm > c.EvaluationPeriods:
		return bad("datapoints-to-alarm %d: want 1 to evaluation-periods (%d), or 0 for evaluation-periods", c.DatapointsToAlarm, c.EvaluationPeriods)
	case c.TreatMissing < 0 || int(c.TreatMissing) >= len(treatNames):
		return bad("treat-missing-data %d is unknown", int(c.TreatMissing))
	}
	for i, d := range c.Dimensions {
		if d == "" {
			return bad("dimensions: name %d is empty", i+1)
		}
		if c.DimCols[i] < 0 {
			return bad("dimensions: column %d of %s is negative", c.DimCols[i], d)
		}
	}
	return nil
}

// maxEvaluationPeriods bounds N (and so the datapoints kept per instance).
const maxEvaluationPeriods = 100_000

// m returns DatapointsToAlarm with its default applied.
func (c *Config) m() int {
	if c.DatapointsToAlarm == 0 {
		return c.EvaluationPeriods
	}
	return c.DatapointsToAlarm
}

// Notification is one state change of one alarm instance.
type Notification struct {
	AlarmName string
	NewState  string // "OK", "ALARM" or "INSUFFICIENT_DATA"
	OldState  string
	Reason    string // NewStateReason
	// Time is the StateChangeTime: the end of the period whose evaluation
	// changed the state, in milliseconds since the epoch.
	Time       int64
	Dimensions map[string]string
	// Body is the notification as JSON, like the message CloudWatch
	// publishes to SNS.
	Body string
}

// Publisher receives the notifications of an alarm operator. Publish is
// called from the operator's goroutine, one notification at a time; an
// error fails the operator (and so the job, which restarts from its last
// checkpoint when it has one).
type Publisher interface {
	Publish(n Notification) error
}

// New returns the factory of the alarm operator for cfg, which must be
// valid (Open fails otherwise). The operator must run with parallelism 1:
// one subtask holds every instance of the alarm. It emits no rows.
func New(cfg Config, pub Publisher) func() runtime.Operator {
	cfg.Dimensions = append([]string(nil), cfg.Dimensions...)
	cfg.DimCols = append([]int(nil), cfg.DimCols...)
	return func() runtime.Operator { return newOp(cfg, pub) }
}
