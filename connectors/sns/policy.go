package sns

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"mime"
	"slices"
	"strings"
	"time"
)

// Delivery policy defaults and limits, as Amazon SNS has them for HTTP/S.
const (
	defaultNumRetries = 3
	defaultMinDelay   = 20
	defaultMaxDelay   = 20
	maxNumRetries     = 100
	maxDelayTarget    = 3600
	// maxPolicyDelay bounds the sum of a policy's delays: SNS refuses a
	// policy that retries for longer than an hour.
	maxPolicyDelay = 3600
)

// Backoff functions of the backoff phase.
const (
	backoffLinear      = "linear"
	backoffArithmetic  = "arithmetic"
	backoffGeometric   = "geometric"
	backoffExponential = "exponential"
)

// retryPolicy is a parsed healthyRetryPolicy, with its throttle and request
// options. Delays are counted in policy units (seconds in SNS; see
// SubscriptionConfig.DelayUnit).
type retryPolicy struct {
	NumRetries         int
	NumNoDelayRetries  int
	NumMinDelayRetries int
	NumMaxDelayRetries int
	MinDelayTarget     int
	MaxDelayTarget     int
	BackoffFunction    string
	// MaxReceivesPerSecond (throttlePolicy) paces the attempts; 0: no limit.
	MaxReceivesPerSecond int
	// ContentType (requestPolicy.headerContentType) replaces SNS's
	// text/plain for HTTP/S; "" keeps it.
	ContentType string
}

// defaultPolicy is SNS's default HTTP/S policy: three retries, 20 s apart.
func defaultPolicy() retryPolicy {
	return retryPolicy{
		NumRetries:      defaultNumRetries,
		MinDelayTarget:  defaultMinDelay,
		MaxDelayTarget:  defaultMaxDelay,
		BackoffFunction: backoffLinear,
	}
}

// PolicyError is an invalid delivery policy; Field is the JSON path of the
// offending key (e.g. "healthyRetryPolicy.numRetries").
type PolicyError struct {
	Field string
	Msg   string
}

func (e *PolicyError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// parseDeliveryPolicy parses a subscription's delivery policy, the JSON of
// SNS's HTTP/S delivery policy:
//
//	{"healthyRetryPolicy": {"numRetries": 3, "minDelayTarget": 20, "maxDelayTarget": 20,
//	  "numNoDelayRetries": 0, "numMinDelayRetries": 0, "numMaxDelayRetries": 0,
//	  "backoffFunction": "linear"},
//	 "throttlePolicy": {"maxReceivesPerSecond": 10},
//	 "requestPolicy": {"headerContentType": "application/json"}}
//
// Absent keys take SNS's defaults; "" is the default policy. Unknown keys,
// non-integer numbers and values out of SNS's ranges are errors naming the
// key.
func parseDeliveryPolicy(s string) (retryPolicy, error) {
	p := defaultPolicy()
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	top, err := object(s, "")
	if err != nil {
		return p, err
	}
	for _, key := range slices.Sorted(maps.Keys(top)) {
		raw := top[key]
		switch key {
		case "healthyRetryPolicy":
			if err := p.parseHealthy(raw); err != nil {
				return p, err
			}
		case "throttlePolicy":
			o, err := object(string(raw), key)
			if err != nil || o == nil {
				return p, err
			}
			for k, v := range o {
				if k != "maxReceivesPerSecond" {
					return p, &PolicyError{key + "." + k, "unknown key"}
				}
				if p.MaxReceivesPerSecond, err = integer(v, key+"."+k, 1, math.MaxInt32); err != nil {
					return p, err
				}
			}
		case "requestPolicy":
			o, err := object(string(raw), key)
			if err != nil || o == nil {
				return p, err
			}
			for k, v := range o {
				if k != "headerContentType" {
					return p, &PolicyError{key + "." + k, "unknown key"}
				}
				var ct string
				if json.Unmarshal(v, &ct) != nil {
					return p, &PolicyError{key + "." + k, "not a string"}
				}
				if mt, _, err := mime.ParseMediaType(ct); err != nil || !strings.Contains(mt, "/") {
					return p, &PolicyError{key + "." + k, fmt.Sprintf("%q is not a media type", ct)}
				}
				p.ContentType = ct
			}
		case "sicklyRetryPolicy", "guaranteed":
			// Kept by SNS in a policy it returns; they do not change delivery.
		default:
			return p, &PolicyError{key, "unknown key (want healthyRetryPolicy, throttlePolicy or requestPolicy)"}
		}
	}
	return p, nil
}

// parseHealthy reads healthyRetryPolicy and checks SNS's constraints.
func (p *retryPolicy) parseHealthy(raw json.RawMessage) error {
	const where = "healthyRetryPolicy"
	o, err := object(string(raw), where)
	if err != nil || o == nil {
		return err
	}
	ints := map[string]*int{
		"numRetries":         &p.NumRetries,
		"numNoDelayRetries":  &p.NumNoDelayRetries,
		"numMinDelayRetries": &p.NumMinDelayRetries,
		"numMaxDelayRetries": &p.NumMaxDelayRetries,
		"minDelayTarget":     &p.MinDelayTarget,
		"maxDelayTarget":     &p.MaxDelayTarget,
	}
	for _, k := range slices.Sorted(maps.Keys(o)) {
		v := o[k]
		field := where + "." + k
		if dst, ok := ints[k]; ok {
			if *dst, err = integer(v, field, 0, math.MaxInt32); err != nil {
				return err
			}
			continue
		}
		if k != "backoffFunction" {
			return &PolicyError{field, "unknown key"}
		}
		var f string
		if json.Unmarshal(v, &f) != nil {
			return &PolicyError{field, "not a string"}
		}
		switch f = strings.ToLower(f); f {
		case backoffLinear, backoffArithmetic, backoffGeometric, backoffExponential:
			p.BackoffFunction = f
		default:
			return &PolicyError{field, fmt.Sprintf("%q is not linear, arithmetic, geometric or exponential", f)}
		}
	}
	switch {
	case p.NumRetries > maxNumRetries:
		return &PolicyError{where + ".numRetries", fmt.Sprintf("%d is more than %d", p.NumRetries, maxNumRetries)}
	case p.MaxDelayTarget > maxDelayTarget:
		return &PolicyError{where + ".maxDelayTarget", fmt.Sprintf("%d is more than %d", p.MaxDelayTarget, maxDelayTarget)}
	case p.MinDelayTarget < 1:
		return &PolicyError{where + ".minDelayTarget", "must be at least 1"}
	case p.MinDelayTarget > p.MaxDelayTarget:
		return &PolicyError{where + ".minDelayTarget", fmt.Sprintf("%d is more than maxDelayTarget %d", p.MinDelayTarget, p.MaxDelayTarget)}
	case p.NumNoDelayRetries+p.NumMinDelayRetries+p.NumMaxDelayRetries > p.NumRetries:
		return &PolicyError{where + ".numRetries", fmt.Sprintf("%d is less than numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries (%d)",
			p.NumRetries, p.NumNoDelayRetries+p.NumMinDelayRetries+p.NumMaxDelayRetries)}
	}
	total := 0.0
	for _, d := range p.delays() {
		total += d
	}
	if total > maxPolicyDelay {
		return &PolicyError{where, fmt.Sprintf("the retries wait %.0f in all, more than SNS's limit of %d seconds", total, maxPolicyDelay)}
	}
	return nil
}

// object decodes s as a JSON object (null gives nil). where names it in
// errors.
func object(s, where string) (map[string]json.RawMessage, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var o map[string]json.RawMessage
	if err := d.Decode(&o); err != nil {
		if where == "" {
			return nil, &PolicyError{"", fmt.Sprintf("not a JSON object: %v", err)}
		}
		return nil, &PolicyError{where, "not a JSON object"}
	}
	if d.More() {
		return nil, &PolicyError{where, "trailing data after the JSON object"}
	}
	return o, nil
}

// integer decodes v as a whole number in [lo, hi].
func integer(v json.RawMessage, field string, lo, hi int) (int, error) {
	var f float64
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) || json.Unmarshal(v, &f) != nil || f != math.Trunc(f) {
		return 0, &PolicyError{field, fmt.Sprintf("%s is not a whole number", v)}
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, &PolicyError{field, fmt.Sprintf("%s is out of range %d..%d", v, lo, hi)}
	}
	return int(f), nil
}

// delays returns the wait before each retry, in policy units: retry i
// (from 0) waits delays()[i] after the failed attempt before it. The
// retries go through SNS's four phases in turn:
//
//  1. immediate: numNoDelayRetries retries without delay;
//  2. pre-backoff: numMinDelayRetries retries minDelayTarget apart;
//  3. backoff: the rest, numRetries minus the other phases' retries, whose
//     delays rise from minDelayTarget (the first) to maxDelayTarget (the
//     last) along backoffFunction;
//  4. post-backoff: numMaxDelayRetries retries maxDelayTarget apart.
//
// SNS documents the backoff functions by a graph only; here, with x going
// from 0 to 1 over the backoff phase, the delay is min + (max-min)·g(x)
// where g is x for linear, x² for arithmetic (delays growing by steps that
// grow evenly), and for geometric a constant ratio between successive
// delays (min·(max/min)^x); exponential rises slowest at first and
// steepest at the end, (2^(10x) − 1)/(2^10 − 1). Unlike SNS, no jitter is
// added, so the schedule is predictable.
func (p retryPolicy) delays() []float64 {
	out := make([]float64, 0, p.NumRetries)
	for range p.NumNoDelayRetries {
		out = append(out, 0)
	}
	lo, hi := float64(p.MinDelayTarget), float64(p.MaxDelayTarget)
	for range p.NumMinDelayRetries {
		out = append(out, lo)
	}
	n := p.NumRetries - p.NumNoDelayRetries - p.NumMinDelayRetries - p.NumMaxDelayRetries
	for i := range n {
		x := 0.0
		if n > 1 {
			x = float64(i) / float64(n-1)
		}
		var d float64
		switch p.BackoffFunction {
		case backoffArithmetic:
			d = lo + (hi-lo)*x*x
		case backoffGeometric:
			d = lo * math.Pow(hi/lo, x)
		case backoffExponential:
			d = lo + (hi-lo)*(math.Exp2(10*x)-1)/(math.Exp2(10)-1)
		default:
			d = lo + (hi-lo)*x
		}
		out = append(out, d)
	}
	for range p.NumMaxDelayRetries {
		out = append(out, hi)
	}
	return out
}

// schedule is delays in time, one policy unit being unit, rounded to the
// millisecond.
func (p retryPolicy) schedule(unit time.Duration) []time.Duration {
	ds := p.delays()
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = (time.Duration(d * float64(unit))).Round(time.Millisecond)
	}
	return out
}
