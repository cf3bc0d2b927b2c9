// Package filter implements SNS subscription filter policies: which
// messages a subscription receives, by their attributes or their body.
//
// A policy is compiled once with Compile into a tree of conditions; Match
// then walks that tree for each message without looking at the policy's
// JSON again. A compiled Policy is immutable and safe for concurrent use.
package filter

import (
	"errors"
	"fmt"
)

// Scope is what a policy looks at.
type Scope int

const (
	// MessageAttributes (the default) matches the message's attributes.
	MessageAttributes Scope = iota
	// MessageBody matches the message body, a JSON object (nested keys).
	MessageBody
)

// Attribute is one message attribute, as SNS has them: Type is "String",
// "Number" or "String.Array" (Value is then a JSON array).
type Attribute struct {
	Type  string
	Value string
}

// Limits of a policy, as SNS has them.
const (
	// MaxKeys is the most keys one alternative of a policy may test (leaf
	// keys for nested body policies; each "$or" alternative counts apart).
	MaxKeys = 5
	// MaxCombinations is the most combinations of values a policy may
	// have: the product of the lengths of its value lists, summed over the
	// alternatives of "$or".
	MaxCombinations = 150
	// MaxPolicySize is the largest policy, in bytes.
	MaxPolicySize = 256 * 1024
	// MaxNumber bounds the numbers a policy may compare with (both signs).
	MaxNumber = 1e9
)

// ErrInvalidPolicy is what every error of Compile wraps.
var ErrInvalidPolicy = errors.New("invalid filter policy")

// PolicyError is an invalid policy: Key is the offending key (a dotted
// path for nested body policies, empty when the policy as a whole is at
// fault) and Reason says what is wrong with it.
type PolicyError struct {
	Key    string
	Reason string
}

func (e *PolicyError) Error() string {
	if e.Key == "" {
		return "filter policy: " + e.Reason
	}
	return fmt.Sprintf("filter policy: key %q: %s", e.Key, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidPolicy) hold.
func (e *PolicyError) Unwrap() error { return ErrInvalidPolicy }

func policyErr(key, format string, args ...any) error {
	return &PolicyError{Key: key, Reason: fmt.Sprintf(format, args...)}
}

// Policy is a compiled filter policy.
type Policy struct {
	scope Scope
	root  *node
	need  *need // what of a body the policy looks at (MessageBody scope)
}

// Compile parses a filter policy (JSON) for scope. An invalid policy gives
// a *PolicyError naming the offending key.
func Compile(policy string, scope Scope) (*Policy, error) {
	if scope != MessageAttributes && scope != MessageBody {
		return nil, policyErr("", "unknown scope %d", int(scope))
	}
	if len(policy) > MaxPolicySize {
		return nil, policyErr("", "policy is %d bytes, more than %d", len(policy), MaxPolicySize)
	}
	v, err := parsePolicyJSON(policy)
	if err != nil {
		return nil, err
	}
	if v.kind != jObject {
		return nil, policyErr("", "policy must be a JSON object")
	}
	c := compiler{scope: scope}
	root, _, err := c.object(v.obj, "")
	if err != nil {
		return nil, err
	}
	p := &Policy{scope: scope, root: root}
	if scope == MessageBody {
		p.need = needOf(root)
	}
	return p, nil
}

// Match reports whether a message with these attributes and body passes
// the policy. A nil policy matches everything. With MessageAttributes
// scope the body is not looked at; with MessageBody scope the attributes
// are not, and a body that is not a JSON object matches nothing (unless
// the policy is empty). Match does not keep attrs or body.
func (p *Policy) Match(attrs map[string]Attribute, body []byte) bool {
	if p == nil || p.root.empty() {
		return true
	}
	if p.scope == MessageBody {
		obj, ok := decodeBody(body, p.need)
		if !ok {
			return false
		}
		return p.root.matchBody(obj)
	}
	return p.root.matchAttrs(attrs)
}
