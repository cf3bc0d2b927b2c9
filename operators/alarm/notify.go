package alarm

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/jsontext"
	"github.com/sluicehq/sluice/runtime"
)

// What the notification says of the account, region and namespace: Sluice
// has none of its own, so it uses placeholders in CloudWatch's forms.
const (
	accountID = "000000000000"
	region    = "us-east-1"
	namespace = "Sluice"
)

// notify publishes the change of in to state next, found by the evaluation
// of the period ending at e whose window (lo, e] holds d datapoints, b of
// them breaching.
func (o *op) notify(in *instance, e, lo int64, d, b int, next state) error {
	n := Notification{
		AlarmName:  o.cfg.Name,
		NewState:   next.String(),
		OldState:   in.state.String(),
		Reason:     o.reason(in.pts, e, d, b, in.state, next),
		Time:       e,
		Dimensions: make(map[string]string, len(in.dims)),
	}
	for i, name := range o.cfg.Dimensions {
		n.Dimensions[name] = in.dims[i]
	}
	n.Body = o.body(&n, in.dims)
	if err := o.pub.Publish(n); err != nil {
		return fmt.Errorf("alarm %q: cannot publish the change to %s: %w", o.cfg.Name, n.NewState, err)
	}
	return nil
}

// plural returns "1 datapoint" or "2 datapoints".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// reason writes NewStateReason as CloudWatch words it. The datapoints
// listed are those on the side of the new state (breaching ones for ALARM,
// the others for OK), newest first, each with the end of its period.
func (o *op) reason(pts []point, e int64, d, b int, old, next state) string {
	n := o.cfg.EvaluationPeriods
	missing := n - d
	var sb strings.Builder
	if next == insufficientData {
		fmt.Fprintf(&sb, "Insufficient Data: %s %s received for %s and %s %s treated as [Missing].",
			plural(d, "datapoint"), wasWere(d), plural(n, "period"), plural(missing, "missing datapoint"), wasWere(missing))
		return sb.String()
	}
	treated := ""
	counted := 0 // missing datapoints counted on the side of the new state
	switch {
	case o.cfg.TreatMissing == Breaching && next == stateAlarm:
		treated, counted = "Breaching", missing
	case o.cfg.TreatMissing == NotBreaching && next == stateOK:
		treated, counted = "NotBreaching", missing
	}
	if d == 0 {
		fmt.Fprintf(&sb, "Threshold Crossed: no datapoints were received for %s and %s %s treated as [%s].",
			plural(n, "period"), plural(missing, "missing datapoint"), wasWere(missing), treated)
		return sb.String()
	}
	wantBreach := next == stateAlarm
	k := b
	if !wantBreach {
		k = d - b
	}
	words := comparisonWords[o.cfg.Comparison]
	if !wantBreach {
		words = "not " + words
	}
	list := o.datapoints(pts, e, wantBreach)
	threshold := runtime.FormatFloat(o.cfg.Threshold)
	if n == 1 {
		fmt.Fprintf(&sb, "Threshold Crossed: 1 datapoint [%s] was %s the threshold (%s).", list, words, threshold)
		return sb.String()
	}
	switch {
	case k == 0: // only missing datapoints are on the side of the new state
		fmt.Fprintf(&sb, "Threshold Crossed: %s %s treated as [%s]", plural(counted, "missing datapoint"), wasWere(counted), treated)
	default:
		fmt.Fprintf(&sb, "Threshold Crossed: %d out of the last %d datapoints [%s] %s %s the threshold (%s)",
			k, n, list, wasWere(k), words, threshold)
		if counted > 0 {
			fmt.Fprintf(&sb, " and %s %s treated as [%s]", plural(counted, "missing datapoint"), wasWere(counted), treated)
		}
	}
	minimum := o.m
	if next == stateOK {
		minimum = n - o.m + 1
	}
	fmt.Fprintf(&sb, " (minimum %s for %s -> %s transition).", plural(minimum, "datapoint"), old, next)
	return sb.String()
}

// datapoints lists the datapoints of pts with an end ≤ e that breach (or
// not), newest first, as CloudWatch does: "97.0 (25/11/26 10:00:10), …".
func (o *op) datapoints(pts []point, e int64, breach bool) string {
	var sb strings.Builder
	for i := len(pts) - 1; i >= 0; i-- {
		pt := pts[i]
		if pt.end > e || o.cfg.Comparison.breaches(pt.v, o.cfg.Threshold) != breach {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(runtime.FormatFloat(pt.v))
		sb.WriteString(" (")
		sb.WriteString(time.UnixMilli(pt.end).UTC().Format("02/01/06 15:04:05"))
		sb.WriteByte(')')
	}
	return sb.String()
}

// body writes the notification as JSON in the shape of CloudWatch's SNS
// message. The statistic is computed upstream, by the query, so Trigger's
// Statistic is left empty.
func (o *op) body(n *Notification, dims []string) string {
	b := make([]byte, 0, 1024+len(n.Reason))
	str := func(name, v string) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = jsontext.AppendString(b, v)
	}
	raw := func(name, v string) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = append(b, v...)
	}
	b = append(b, `{"AlarmName":`...)
	b = jsontext.AppendString(b, o.cfg.Name)
	str("AlarmDescription", o.cfg.Description)
	str("AWSAccountId", accountID)
	str("NewStateValue", n.NewState)
	str("NewStateReason", n.Reason)
	b = append(b, `,"StateChangeTime":"`...)
	b = time.UnixMilli(n.Time).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, '"')
	str("Region", region)
	str("AlarmArn", "arn:aws:cloudwatch:"+region+":"+accountID+":alarm:"+o.cfg.Name)
	str("OldStateValue", n.OldState)
	b = append(b, `,"Dimensions":{`...)
	for i, name := range o.cfg.Dimensions {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, name)
		b = append(b, ':')
		b = jsontext.AppendString(b, dims[i])
	}
	b = append(b, `},"Trigger":{"MetricName":`...)
	b = jsontext.AppendString(b, o.cfg.MetricName)
	str("Namespace", namespace)
	str("StatisticType", "Statistic")
	str("Statistic", "")
	raw("Unit", "null")
	b = append(b, `,"Dimensions":[`...)
	for i, name := range o.cfg.Dimensions {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = jsontext.AppendString(b, name)
		b = append(b, `,"value":`...)
		b = jsontext.AppendString(b, dims[i])
		b = append(b, '}')
	}
	b = append(b, ']')
	period := o.period
	if o.provisional {
		period = 0
	}
	raw("Period", strconv.FormatFloat(float64(period)/1000, 'f', -1, 64))
	raw("EvaluationPeriods", strconv.Itoa(o.cfg.EvaluationPeriods))
	raw("DatapointsToAlarm", strconv.Itoa(o.m))
	str("ComparisonOperator", o.cfg.Comparison.String())
	raw("Threshold", runtime.FormatFloat(o.cfg.Threshold))
	str("TreatMissingData", o.cfg.TreatMissing.String())
	str("EvaluateLowSampleCountPercentile", "")
	b = append(b, '}', '}')
	return string(b)
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string { return string(jsontext.AppendString(nil, s)) }
