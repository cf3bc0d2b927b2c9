package filter

import (
	"math"
	"net/netip"
)

// node is one object level of a policy: every field must match (AND), and
// for every "$or" at least one of its alternatives must match.
type node struct {
	fields []field
	ors    [][]*node
}

func (n *node) empty() bool { return len(n.fields) == 0 && len(n.ors) == 0 }

// field is one key of a node: either a nested object (body scope) or a
// list of conditions on the key's value.
type field struct {
	name  string
	child *node
	leaf  *leaf
}

// leaf is a key's list of conditions, any of which may match (OR).
type leaf struct {
	existsTrue  bool
	existsFalse bool
	null        bool
	boolTrue    bool
	boolFalse   bool
	strs        []string
	nums        []float64 // scaled, see scale
	conds       []cond
}

type condKind uint8

const (
	condPrefix condKind = iota
	condSuffix
	condEqualsIgnoreCase
	condNumeric
	condButStrings
	condButNumbers
	condButPrefix
	condButSuffix
	condButEqualsIgnoreCase
	condCIDR
)

// cond is one operator condition.
type cond struct {
	kind   condKind
	s      string
	prefix netip.Prefix // cidr
	strs   []string
	nums   []float64
	lo, hi float64 // numeric range, scaled; ±Inf when open
	loIncl bool
	hiIncl bool
}

// scale maps a number to the grid SNS compares numbers on: five digits
// after the decimal point, so that 0.1+0.2 equals 0.3.
func scale(x float64) float64 { return math.Round(x * 1e5) }

// operators are the keys of a condition object. An object in a "$or" list
// holding one of them makes "$or" an ordinary key, as in SNS.
var operators = map[string]bool{
	"prefix":             true,
	"suffix":             true,
	"anything-but":       true,
	"numeric":            true,
	"exists":             true,
	"equals-ignore-case": true,
	"cidr":               true,
}

// branch is one alternative of a policy once its "$or"s are spread out:
// how many leaf keys it tests and how many combinations of values it has.
type branch struct {
	keys   int
	combos int
}

type compiler struct {
	scope Scope
}

// object compiles the members of one object level; path is the dotted
// path of that level ("" at the top).
func (c *compiler) object(members []jmember, path string) (*node, []branch, error) {
	n := &node{}
	brs := []branch{{keys: 0, combos: 1}}
	var err error
	for _, m := range members {
		key := joinKey(path, m.key)
		if m.key == "$or" && isOr(m.val) {
			alts := make([]*node, 0, len(m.val.arr))
			var altBrs []branch
			sum := 0
			for _, a := range m.val.arr {
				if len(a.obj) == 0 {
					return nil, nil, policyErr(key, "an alternative of $or is an empty object")
				}
				an, ab, err := c.object(a.obj, path)
				if err != nil {
					return nil, nil, err
				}
				for _, b := range ab {
					sum += b.combos
				}
				if sum > MaxCombinations {
					return nil, nil, tooManyCombos(key)
				}
				alts = append(alts, an)
				altBrs = append(altBrs, ab...)
			}
			if brs, err = cross(brs, altBrs, key); err != nil {
				return nil, nil, err
			}
			n.ors = append(n.ors, alts)
			continue
		}
		switch m.val.kind {
		case jObject:
			if c.scope == MessageAttributes {
				return nil, nil, policyErr(key, "nested policies are not allowed with the MessageAttributes scope; conditions go in an array")
			}
			if len(m.val.obj) == 0 {
				return nil, nil, policyErr(key, "empty object")
			}
			child, cb, err := c.object(m.val.obj, key)
			if err != nil {
				return nil, nil, err
			}
			if brs, err = cross(brs, cb, key); err != nil {
				return nil, nil, err
			}
			n.fields = append(n.fields, field{name: m.key, child: child})
		case jArray:
			lf, err := c.leaf(m.val.arr, key)
			if err != nil {
				return nil, nil, err
			}
			if brs, err = cross(brs, []branch{{keys: 1, combos: len(m.val.arr)}}, key); err != nil {
				return nil, nil, err
			}
			n.fields = append(n.fields, field{name: m.key, leaf: lf})
		default:
			return nil, nil, policyErr(key, "value must be an array of conditions, not a %s", m.val.kind)
		}
	}
	return n, brs, nil
}

// isOr reports whether a "$or" key is the OR operator: SNS takes it so
// only for an array of at least two objects none of which is a condition.
func isOr(v jvalue) bool {
	if v.kind != jArray || len(v.arr) < 2 {
		return false
	}
	for _, e := range v.arr {
		if e.kind != jObject {
			return false
		}
		for _, m := range e.obj {
			if operators[m.key] {
				return false
			}
		}
	}
	return true
}

func tooManyCombos(key string) error {
	return policyErr(key, "policy has more than %d combinations of values", MaxCombinations)
}

// cross is every branch of a joined with every branch of b (AND); key is
// the key being added, named by a limit error.
func cross(a, b []branch, key string) ([]branch, error) {
	if len(a)*len(b) > MaxCombinations {
		return nil, tooManyCombos(key)
	}
	out := make([]branch, 0, len(a)*len(b))
	sum := 0
	for _, x := range a {
		for _, y := range b {
			br := branch{keys: x.keys + y.keys, combos: x.combos * y.combos}
			if br.keys > MaxKeys {
				return nil, policyErr(key, "policy has more than %d keys", MaxKeys)
			}
			sum += br.combos
			if sum > MaxCombinations {
				return nil, tooManyCombos(key)
			}
			out = append(out, br)
		}
	}
	return out, nil
}

// leaf compiles a key's list of conditions.
func (c *compiler) leaf(list []jvalue, key string) (*leaf, error) {
	if len(list) == 0 {
		return nil, policyErr(key, "empty list of conditions")
	}
	lf := &leaf{}
	for _, e := range list {
		switch e.kind {
		case jString:
			lf.strs = append(lf.strs, e.str)
		case jNumber:
			n, err := number(e, key)
			if err != nil {
				return nil, err
			}
			lf.nums = append(lf.nums, n)
		case jNull:
			lf.null = true
		case jBool:
			if e.b {
				lf.boolTrue = true
			} else {
				lf.boolFalse = true
			}
		case jArray:
			return nil, policyErr(key, "a condition cannot be an array")
		case jObject:
			if err := c.operator(lf, e.obj, key); err != nil {
				return nil, err
			}
		}
	}
	return lf, nil
}

func number(v jvalue, key string) (float64, error) {
	if v.num > MaxNumber || v.num < -MaxNumber {
		return 0, policyErr(key, "number %s is outside the range -1e9 to 1e9", v.str)
	}
	return scale(v.num), nil
}

func (c *compiler) operator(lf *leaf, obj []jmember, key string) error {
	if len(obj) != 1 {
		return policyErr(key, "a condition object must have exactly one operator, this one has %d", len(obj))
	}
	op, v := obj[0].key, obj[0].val
	switch op {
	case "prefix", "suffix", "equals-ignore-case":
		if v.kind != jString {
			return policyErr(key, "%q takes a string, not a %s", op, v.kind)
		}
		k := map[string]condKind{"prefix": condPrefix, "suffix": condSuffix, "equals-ignore-case": condEqualsIgnoreCase}[op]
		lf.conds = append(lf.conds, cond{kind: k, s: v.str})
	case "cidr":
		if v.kind != jString {
			return policyErr(key, "\"cidr\" takes a string, not a %s", v.kind)
		}
		pfx, err := netip.ParsePrefix(v.str)
		if err != nil {
			return policyErr(key, "\"cidr\" %q is not an IP prefix such as 10.0.0.0/24", v.str)
		}
		lf.conds = append(lf.conds, cond{kind: condCIDR, prefix: pfx.Masked()})
	case "exists":
		if v.kind != jBool {
			return policyErr(key, "\"exists\" takes true or false, not a %s", v.kind)
		}
		if v.b {
			lf.existsTrue = true
		} else {
			lf.existsFalse = true
		}
	case "numeric":
		cd, err := numeric(v, key)
		if err != nil {
			return err
		}
		lf.conds = append(lf.conds, cd)
	case "anything-but":
		cd, err := anythingBut(v, key)
		if err != nil {
			return err
		}
		lf.conds = append(lf.conds, cd)
	default:
		return policyErr(key, "unknown operator %q", op)
	}
	return nil
}

func numeric(v jvalue, key string) (cond, error) {
	if v.kind != jArray || (len(v.arr) != 2 && len(v.arr) != 4) {
		return cond{}, policyErr(key, "\"numeric\" takes [operator, number] or [\">\" or \">=\", number, \"<\" or \"<=\", number]")
	}
	cd := cond{kind: condNumeric, lo: math.Inf(-1), hi: math.Inf(1), loIncl: true, hiIncl: true}
	ops := make([]string, 0, 2)
	for i := 0; i < len(v.arr); i += 2 {
		o, n := v.arr[i], v.arr[i+1]
		if o.kind != jString {
			return cond{}, policyErr(key, "\"numeric\" operator must be a string, not a %s", o.kind)
		}
		if n.kind != jNumber {
			return cond{}, policyErr(key, "\"numeric\" operand of %q must be a number, not a %s", o.str, n.kind)
		}
		x, err := number(n, key)
		if err != nil {
			return cond{}, err
		}
		switch o.str {
		case "=":
			cd.lo, cd.hi, cd.loIncl, cd.hiIncl = x, x, true, true
		case ">":
			cd.lo, cd.loIncl = x, false
		case ">=":
			cd.lo, cd.loIncl = x, true
		case "<":
			cd.hi, cd.hiIncl = x, false
		case "<=":
			cd.hi, cd.hiIncl = x, true
		default:
			return cond{}, policyErr(key, "unknown numeric operator %q", o.str)
		}
		ops = append(ops, o.str)
	}
	if len(ops) == 2 {
		lower := ops[0] == ">" || ops[0] == ">="
		upper := ops[1] == "<" || ops[1] == "<="
		if !lower || !upper {
			return cond{}, policyErr(key, "a numeric range is [\">\" or \">=\", low, \"<\" or \"<=\", high], not %q then %q", ops[0], ops[1])
		}
		if cd.lo >= cd.hi {
			return cond{}, policyErr(key, "numeric range: the low bound %s is not below the high bound %s", v.arr[1].str, v.arr[3].str)
		}
	}
	return cd, nil
}

func anythingBut(v jvalue, key string) (cond, error) {
	switch v.kind {
	case jString:
		return cond{kind: condButStrings, strs: []string{v.str}}, nil
	case jNumber:
		n, err := number(v, key)
		if err != nil {
			return cond{}, err
		}
		return cond{kind: condButNumbers, nums: []float64{n}}, nil
	case jArray:
		if len(v.arr) == 0 {
			return cond{}, policyErr(key, "\"anything-but\" list is empty")
		}
		first := v.arr[0].kind
		if first != jString && first != jNumber {
			return cond{}, policyErr(key, "\"anything-but\" list holds strings or numbers, not a %s", first)
		}
		cd := cond{kind: condButStrings}
		if first == jNumber {
			cd.kind = condButNumbers
		}
		for _, e := range v.arr {
			if e.kind != first {
				return cond{}, policyErr(key, "\"anything-but\" list mixes a %s with a %s", first, e.kind)
			}
			if first == jString {
				cd.strs = append(cd.strs, e.str)
				continue
			}
			n, err := number(e, key)
			if err != nil {
				return cond{}, err
			}
			cd.nums = append(cd.nums, n)
		}
		return cd, nil
	case jObject:
		if len(v.obj) != 1 {
			return cond{}, policyErr(key, "\"anything-but\" object must have exactly one operator, this one has %d", len(v.obj))
		}
		op, o := v.obj[0].key, v.obj[0].val
		var k condKind
		switch op {
		case "prefix":
			k = condButPrefix
		case "suffix":
			k = condButSuffix
		case "equals-ignore-case":
			k = condButEqualsIgnoreCase
		default:
			return cond{}, policyErr(key, "unknown operator %q inside \"anything-but\"", op)
		}
		if o.kind != jString {
			return cond{}, policyErr(key, "\"anything-but\" %q takes a string, not a %s", op, o.kind)
		}
		return cond{kind: k, s: o.str}, nil
	default:
		return cond{}, policyErr(key, "\"anything-but\" takes a string, a number, a list of them or a prefix/suffix object, not a %s", v.kind)
	}
}
