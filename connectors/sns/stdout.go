package sns

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxSummaryChars bounds the one-line summary of a message.
const maxSummaryChars = 160

// stdoutMu keeps the notifications of several subscriptions writing to
// standard output from interleaving.
var stdoutMu sync.Mutex

// stdoutOutput writes notifications for a human to read:
//
//	[topic] Subject — one-line summary
//	  {
//	    "pretty": "body, when it is JSON"
//	  }
//
// A CloudWatch alarm's summary is its name, new state, old state and
// reason; another JSON object's, its first fields; a text's, its first
// line (the rest of a longer text follows, indented).
type stdoutOutput struct {
	w io.Writer
}

func newStdoutOutput(w io.Writer) *stdoutOutput {
	if w == nil {
		w = os.Stdout
	}
	return &stdoutOutput{w: w}
}

func (o *stdoutOutput) deliver(_ context.Context, s *Subscription, n *notification) error {
	text := formatReadable(s.topic.name, &n.msg)
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	_, err := o.w.Write(text)
	return err
}

func (o *stdoutOutput) close() error { return nil }

// formatReadable renders a message as formatted by stdoutOutput.
func formatReadable(topic string, m *Message) []byte {
	var b bytes.Buffer
	body := []byte(m.Body)
	summary, rest := "", ""
	var obj map[string]json.RawMessage
	isJSON := json.Valid(body)
	if isJSON {
		_ = json.Unmarshal(body, &obj) // obj stays nil for a JSON array or scalar
		summary = summarizeJSON(obj, body)
	} else {
		first, more, _ := strings.Cut(strings.TrimSpace(m.Body), "\n")
		summary = strings.TrimSpace(first)
		if more != "" || utf8.RuneCountInString(summary) > maxSummaryChars {
			rest = m.Body
		}
	}
	summary = truncate(summary)
	fmt.Fprintf(&b, "[%s] ", topic)
	switch {
	case m.Subject != "" && summary != "":
		fmt.Fprintf(&b, "%s — %s\n", m.Subject, summary)
	case m.Subject != "":
		fmt.Fprintf(&b, "%s\n", m.Subject)
	default:
		fmt.Fprintf(&b, "%s\n", summary)
	}
	if isJSON {
		var pretty bytes.Buffer
		if json.Indent(&pretty, bytes.TrimSpace(body), "  ", "  ") == nil {
			b.WriteString("  ")
			b.Write(pretty.Bytes())
			b.WriteByte('\n')
		}
	} else if rest != "" {
		for _, line := range strings.Split(strings.TrimRight(rest, "\n"), "\n") {
			b.WriteString("  ")
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// summarizeJSON is the one-line summary of a JSON body: for a CloudWatch
// alarm `ALARM "name" (was OK): reason`, for another object its first
// scalar fields as name=value, else the compact JSON.
func summarizeJSON(obj map[string]json.RawMessage, body []byte) string {
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(obj[k], &s)
		return s
	}
	if obj != nil && str("AlarmName") != "" && str("NewStateValue") != "" {
		s := fmt.Sprintf("%s %q", str("NewStateValue"), str("AlarmName"))
		if old := str("OldStateValue"); old != "" {
			s += " (was " + old + ")"
		}
		if r := str("NewStateReason"); r != "" {
			s += ": " + r
		}
		return s
	}
	if obj != nil {
		// Fields in the order of the body.
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		var parts []string
		if _, err := d.Token(); err == nil {
			size := 0
			for d.More() && size < maxSummaryChars {
				k, err := d.Token()
				if err != nil {
					break
				}
				var v json.RawMessage
				if d.Decode(&v) != nil {
					break
				}
				if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
					continue
				}
				p := fmt.Sprintf("%v=%s", k, v)
				parts = append(parts, p)
				size += len(p) + 2
			}
		}
		return strings.Join(parts, ", ")
	}
	var c bytes.Buffer
	_ = json.Compact(&c, body)
	return c.String()
}

// truncate cuts s to maxSummaryChars characters, marking the cut.
func truncate(s string) string {
	if utf8.RuneCountInString(s) <= maxSummaryChars {
		return s
	}
	r := []rune(s)
	return string(r[:maxSummaryChars-1]) + "…"
}
