package server

// Resource policies: PutResourcePolicy, GetResourcePolicy and
// DeleteResourcePolicy keep one IAM policy document per stream (in
// stream.json), and every request on a stream with a policy is checked
// against it before its operation runs.
//
// The principal of a request is the access key K it is signed with: it
// matches Principal "*", {"AWS": "*"}, {"AWS": "K"},
// {"AWS": "arn:aws:iam::000000000000:user/K"}, and the account's own
// {"AWS": "arn:aws:iam::000000000000:root"} or {"AWS": "000000000000"}. A
// store without credentials has no principals: its requests are
// anonymous, and match only "*".
//
// A policy names an operation when one of its statements' Action (or
// NotAction) covers kinesis:<Operation> (wildcards such as kinesis:Get*,
// kinesis:* and * too). For an operation the policy does not name, the
// policy has no say. For one it names, a matching Deny statement refuses
// it; otherwise a matching Allow statement must exist, or it is refused.
// A statement matches when its action, resource (the stream's ARN, or the
// consumer's for operations that name a consumer) and principal do, and
// each of its conditions holds. Conditions may test aws:PrincipalArn and
// aws:PrincipalAccount with the String* and Arn* operators; a condition on
// a key an anonymous request lacks holds only for the negated operators,
// as in IAM. Refusals are AccessDeniedException with AWS's message.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/store"
)

// accountID is the account of every ARN the store hands out.
const accountID = "000000000000"

// policy is a parsed resource policy.
type policy struct {
	statements []policyStatement
}

type policyStatement struct {
	deny                   bool
	principals             []string // "*", an access key, a user or root ARN, an account id
	notPrincipal           bool
	actions, resources     []string // patterns with * and ?
	notAction, notResource bool
	conditions             []policyCondition
}

type policyCondition struct {
	op     string // as written, e.g. "StringLike"
	key    string // lower case: "aws:principalarn" or "aws:principalaccount"
	values []string
}

// conditionOps are the condition operators the store evaluates: does the
// operator match a value, does it ignore case, does it negate.
var conditionOps = map[string]struct{ like, fold, not bool }{
	"StringEquals":              {},
	"StringNotEquals":           {not: true},
	"StringEqualsIgnoreCase":    {fold: true},
	"StringNotEqualsIgnoreCase": {fold: true, not: true},
	"StringLike":                {like: true},
	"StringNotLike":             {like: true, not: true},
	"ArnEquals":                 {},
	"ArnNotEquals":              {not: true},
	"ArnLike":                   {like: true},
	"ArnNotLike":                {like: true, not: true},
}

// policyProblem is what is wrong with a policy, the end of an
// InvalidArgumentException message.
type policyProblem string

func (p policyProblem) Error() string { return string(p) }

func problem(format string, args ...any) error { return policyProblem(fmt.Sprintf(format, args...)) }

func invalidPolicy(format string, args ...any) error {
	return apiErr(store.ErrInvalidArgument, store.MsgPolicyInvalid, fmt.Sprintf(format, args...))
}

// parsePolicy parses and checks a policy document: a JSON object with an
// optional Version ("2012-10-17" or "2008-10-17") and Id, and a Statement
// (one object or a non-empty list of them); each statement with an Effect
// (Allow or Deny), exactly one of Principal and NotPrincipal, of Action and
// NotAction and of Resource and NotResource, an optional Sid and an
// optional Condition the store can evaluate. Any other member is refused.
func parsePolicy(doc string) (*policy, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &top); err != nil || top == nil {
		return nil, invalidPolicy(store.MsgPolicyNotObject)
	}
	for k, v := range top {
		switch k {
		case "Version":
			var ver string
			if json.Unmarshal(v, &ver) != nil || ver != "2012-10-17" && ver != "2008-10-17" {
				return nil, invalidPolicy(store.MsgPolicyVersion)
			}
		case "Id":
			var id string
			if json.Unmarshal(v, &id) != nil {
				return nil, invalidPolicy(store.MsgPolicyID)
			}
		case "Statement":
		default:
			return nil, invalidPolicy(store.MsgPolicyUnknownMember, k)
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, invalidPolicy(store.MsgPolicyNoStatement)
	}
	var list []json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		list = []json.RawMessage{raw}
	} else if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, invalidPolicy(store.MsgPolicyStatementList)
	}
	p := &policy{}
	for i, r := range list {
		st, err := parseStatement(r)
		if err != nil {
			return nil, invalidPolicy(store.MsgPolicyStatement, i+1, err)
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage) (policyStatement, error) {
	var st policyStatement
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return st, problem(store.MsgPolicyStatementObject)
	}
	var effect string
	if json.Unmarshal(m["Effect"], &effect) != nil || effect != "Allow" && effect != "Deny" {
		return st, problem(store.MsgPolicyEffect)
	}
	st.deny = effect == "Deny"
	for k, v := range m {
		var err error
		switch k {
		case "Sid":
			var sid string
			if json.Unmarshal(v, &sid) != nil {
				err = problem(store.MsgPolicySid)
			}
		case "Effect":
		case "Principal", "NotPrincipal":
			st.principals, err = parsePrincipal(v)
			st.notPrincipal = k == "NotPrincipal"
		case "Action", "NotAction":
			st.actions, err = stringOrList(v, k)
			st.notAction = k == "NotAction"
			for _, a := range st.actions {
				if _, _, ok := strings.Cut(a, ":"); !ok && a != "*" {
					err = problem(store.MsgPolicyAction, k, a)
				}
			}
		case "Resource", "NotResource":
			st.resources, err = stringOrList(v, k)
			st.notResource = k == "NotResource"
		case "Condition":
			st.conditions, err = parseConditions(v)
		default:
			err = problem(store.MsgPolicyStatementMember, k)
		}
		if err != nil {
			return st, err
		}
	}
	for _, k := range []string{"Principal", "Action", "Resource"} {
		_, yes := m[k]
		_, not := m["Not"+k]
		if yes == not {
			return st, problem(store.MsgPolicyOneOf, k, k)
		}
	}
	return st, nil
}

// stringOrList parses a string or a non-empty list of strings.
func stringOrList(raw json.RawMessage, what string) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if json.Unmarshal(raw, &many) != nil || len(many) == 0 {
		return nil, problem(store.MsgPolicyStrings, what)
	}
	return many, nil
}

// parsePrincipal parses "*" or {"AWS": …, "Service": …, …}. Only AWS
// principals can match a request; the others are kept as "" (never).
func parsePrincipal(raw json.RawMessage) ([]string, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, problem(store.MsgPolicyPrincipal)
		}
		return []string{"*"}, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return nil, problem(store.MsgPolicyPrincipal)
	}
	var out []string
	for k, v := range m {
		vals, err := stringOrList(v, "Principal "+k)
		if err != nil {
			return nil, err
		}
		switch k {
		case "AWS":
			out = append(out, vals...)
		case "Service", "Federated", "CanonicalUser":
			out = append(out, "")
		default:
			return nil, problem(store.MsgPolicyPrincipalType, k)
		}
	}
	return out, nil
}

func parseConditions(raw json.RawMessage) ([]policyCondition, error) {
	var m map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, problem(store.MsgPolicyCondition)
	}
	var out []policyCondition
	for op, keys := range m {
		if _, ok := conditionOps[op]; !ok {
			return nil, problem(store.MsgPolicyConditionOp, op)
		}
		for key, v := range keys {
			lk := strings.ToLower(key)
			if lk != "aws:principalarn" && lk != "aws:principalaccount" {
				return nil, problem(store.MsgPolicyConditionKey, key)
			}
			vals, err := stringOrList(v, "condition "+op+" "+key)
			if err != nil {
				return nil, err
			}
			out = append(out, policyCondition{op: op, key: lk, values: vals})
		}
	}
	return out, nil
}

// userARN is the principal ARN of access key key ("" is anonymous).
func userARN(key string) string {
	if key == "" {
		return "anonymous"
	}
	return "arn:aws:iam::" + accountID + ":user/" + key
}

func (st *policyStatement) matchesAction(action string) bool {
	m := false
	for _, a := range st.actions {
		if wildcard(strings.ToLower(a), strings.ToLower(action)) {
			m = true
			break
		}
	}
	return m != st.notAction
}

func (st *policyStatement) matches(action, resource, key string) bool {
	if !st.matchesAction(action) {
		return false
	}
	m := false
	for _, r := range st.resources {
		if wildcard(r, resource) {
			m = true
			break
		}
	}
	if m == st.notResource {
		return false
	}
	m = false
	for _, p := range st.principals {
		if principalMatches(p, key) {
			m = true
			break
		}
	}
	if m == st.notPrincipal {
		return false
	}
	for _, c := range st.conditions {
		if !c.holds(key) {
			return false
		}
	}
	return true
}

func principalMatches(p, key string) bool {
	if p == "*" {
		return true
	}
	if key == "" || p == "" {
		return false
	}
	return p == key || p == userARN(key) || p == "arn:aws:iam::"+accountID+":root" || p == accountID
}

func (c policyCondition) holds(key string) bool {
	op := conditionOps[c.op]
	if key == "" { // an anonymous request has neither key
		return op.not
	}
	v := userARN(key)
	if c.key == "aws:principalaccount" {
		v = accountID
	}
	m := false
	for _, want := range c.values {
		switch {
		case op.like:
			m = wildcard(want, v)
		case op.fold:
			m = strings.EqualFold(want, v)
		default:
			m = want == v
		}
		if m {
			break
		}
	}
	return m != op.not
}

// wildcard matches s against pattern, where * is any run of characters
// and ? any one.
func wildcard(pattern, s string) bool {
	p, str := []rune(pattern), []rune(s)
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == str[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi, mark = star+1, mark+1
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// decide evaluates the policy for key doing op on resource: whether the
// policy names op at all, and if so whether it refuses it explicitly
// (deny) or for want of an Allow.
func (p *policy) decide(op, resource, key string) (named, denied, explicit bool) {
	action := "kinesis:" + op
	allowed := false
	for i := range p.statements {
		st := &p.statements[i]
		if !st.matchesAction(action) {
			continue
		}
		named = true
		if st.matches(action, resource, key) {
			if st.deny {
				return true, true, true
			}
			allowed = true
		}
	}
	return named, named && !allowed, false
}

// authorize checks a request by key ("" for anonymous) to do op on
// resource (an ARN; "" for the stream's own) against the policy of stream
// name. A stream that does not exist has no policy: the operation answers
// for it. Operations added to the store call it for any stream or
// consumer they act on that authorizeCall cannot find in the request.
func (s *Server) authorize(key, op, name, resource string) error {
	s.mu.Lock()
	st := s.streams[name]
	s.mu.Unlock()
	if st == nil {
		return nil
	}
	p := st.policy.Load()
	if p == nil {
		return nil
	}
	if resource == "" {
		resource = s.arn(name)
	}
	named, denied, explicit := p.decide(op, resource, key)
	if !named || !denied {
		return nil
	}
	if explicit {
		return apiErr("AccessDeniedException", store.MsgPolicyExplicitDeny,
			userARN(key), op, resource)
	}
	return apiErr("AccessDeniedException", store.MsgPolicyNoAllow,
		userARN(key), op, resource, op)
}

// namingMembers are the request members that name a stream or consumer.
var namingMembers = []string{"StreamName", "StreamARN", "ResourceARN", "ConsumerARN", "ShardIterator", "NextToken"}

// authorizeCall checks a request against the policies of every stream and
// consumer it names: StreamName, StreamARN, ResourceARN, ConsumerARN, the
// stream of a ShardIterator and of ListShards' NextToken, wherever they
// occur at the top of the JSON body, every occurrence (in any letter
// case, as encoding/json matches names) checked. While no stream has a
// policy it costs nothing.
func (s *Server) authorizeCall(c *call, op string) error {
	if s.policies.Load() == 0 {
		return nil
	}
	if !json.Valid(c.body) {
		return decode(c.body, &struct{}{}) // the operation's SerializationException
	}
	for k, raw := range topLevel(c.body) {
		var member string
		for _, m := range namingMembers {
			if strings.EqualFold(k, m) {
				member = m
			}
		}
		var v string
		if member == "" || len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil || v == "" {
			continue
		}
		name, resource := "", ""
		switch member {
		case "StreamName":
			name = v
		case "StreamARN":
			name = streamRef{StreamARN: v}.name()
		case "ResourceARN", "ConsumerARN":
			n, consumer, err := resourceOf(v)
			if err != nil {
				continue
			}
			name = n
			if consumer != "" {
				resource = v
			}
		case "ShardIterator":
			if pos, err := s.codec.Decode(v); err == nil {
				name = pos.Stream
			}
		case "NextToken":
			if b, err := base64.RawURLEncoding.DecodeString(v); err == nil && op == "ListShards" {
				name, _, _ = strings.Cut(string(b), "\x00")
			}
		}
		if name == "" {
			continue
		}
		if err := s.authorize(c.principal, op, name, resource); err != nil {
			return err
		}
	}
	return nil
}

// setPolicy replaces a stream's policy (nil: none) and its stream.json
// copy. Callers hold st.mu for writing.
func (s *Server) setPolicy(st *stream, doc string, p *policy) error {
	old := st.meta.Policy
	st.meta.Policy = doc
	if err := st.save(); err != nil {
		st.meta.Policy = old
		return err
	}
	switch prev := st.policy.Swap(p); {
	case prev == nil && p != nil:
		s.policies.Add(1)
	case prev != nil && p == nil:
		s.policies.Add(-1)
	}
	return nil
}

// lockedStreamResource is lockedResource for the policy operations, which
// keep policies of streams only: a consumer's ARN is
// InvalidArgumentException (its stream's policy applies to it).
func (s *Server) lockedStreamResource(arn string, write bool) (*stream, func(), error) {
	r, unlock, err := s.lockedResource(arn, write)
	if err != nil {
		return nil, nil, err
	}
	if r.consumer >= 0 {
		unlock()
		return nil, nil, apiErr(store.ErrInvalidArgument, store.MsgPolicyConsumer, r.st.meta.Name)
	}
	return r.st, unlock, nil
}

func (s *Server) putResourcePolicy(body []byte) (any, error) {
	var in struct {
		ResourceARN string
		Policy      *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, _, err := resourceOf(in.ResourceARN); err != nil {
		return nil, err
	}
	if in.Policy == nil {
		return nil, nullErr("policy")
	}
	p, err := parsePolicy(*in.Policy)
	if err != nil {
		return nil, err
	}
	st, unlock, err := s.lockedStreamResource(in.ResourceARN, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.setPolicy(st, *in.Policy, p); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Server) getResourcePolicy(body []byte) (any, error) {
	var in struct{ ResourceARN string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	st, unlock, err := s.lockedStreamResource(in.ResourceARN, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	doc := st.meta.Policy
	if doc == "" {
		doc = "{}"
	}
	return map[string]string{"Policy": doc}, nil
}

// deleteResourcePolicy removes a stream's policy; without one it does
// nothing.
func (s *Server) deleteResourcePolicy(body []byte) (any, error) {
	var in struct{ ResourceARN string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	st, unlock, err := s.lockedStreamResource(in.ResourceARN, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if st.meta.Policy != "" {
		if err := s.setPolicy(st, "", nil); err != nil {
			return nil, err
		}
	}
	return struct{}{}, nil
}

// topLevel yields the members of the JSON object body, which must be
// valid JSON: each name (unescaped) with its value's bytes, duplicates
// included, in order. It yields nothing for another JSON value.
func topLevel(body []byte) func(yield func(string, []byte) bool) {
	return func(yield func(string, []byte) bool) {
		i := skipSpace(body, 0)
		if i >= len(body) || body[i] != '{' {
			return
		}
		i++
		for {
			i = skipSpace(body, i)
			if i >= len(body) || body[i] != '"' {
				return // '}' or the end
			}
			end := skipValue(body, i)
			var name string
			if json.Unmarshal(body[i:end], &name) != nil {
				return
			}
			i = skipSpace(body, end)
			if i >= len(body) || body[i] != ':' {
				return
			}
			i = skipSpace(body, i+1)
			end = skipValue(body, i)
			if !yield(name, body[i:end]) {
				return
			}
			i = skipSpace(body, end)
			if i >= len(body) || body[i] != ',' {
				return
			}
			i++
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the valid JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '{', '[':
			depth++
			i++
		case '}', ']':
			depth--
			i++
		default:
			if depth == 0 && (b[i] == ',' || b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
				return i
			}
			i++
			continue
		}
		if depth == 0 {
			return i
		}
	}
	return i
}
