package runtime

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestDecimalTypeIdentity checks that a DECIMAL type carries its
// precision and scale: types differing in either are different, and
// invalid parameters make an invalid type.
func TestDecimalTypeIdentity(t *testing.T) {
	a, b := DecimalType(10, 2), DecimalType(12, 2)
	if a == b || a != DecimalType(10, 2) || a.Kind() != Decimal || a.Precision() != 10 || a.Scale() != 2 {
		t.Fatalf("DECIMAL(10, 2) = %#x, DECIMAL(12, 2) = %#x", uint32(a), uint32(b))
	}
	if a.String() != "DECIMAL(10, 2)" || a.Physical() != PhysInt || a.Numeric() || !a.IsDecimal() {
		t.Fatalf("%s: physical %d numeric %v", a, a.Physical(), a.Numeric())
	}
	for _, bad := range []Type{Decimal, DecimalType(19, 0), DecimalType(5, 6), DecimalType(-1, 0), Invalid, Type(99)} {
		if bad.Valid() {
			t.Errorf("%s is valid", bad)
		}
	}
	for _, ok := range []Type{Boolean, Int, BigInt, Double, Varchar, Timestamp, DecimalType(1, 0), DecimalType(18, 18)} {
		if !ok.Valid() || ok.Precision() != 0 && !ok.IsDecimal() {
			t.Errorf("%s is not valid", ok)
		}
	}
}

// TestParseDecimalMatchesBig checks ParseDecimal, FormatDecimal and
// RescaleDecimal against math/big on random text: exact, rounded half away
// from zero, overflow an error wrapping ErrDecimalOverflow.
func TestParseDecimalMatchesBig(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.IntRange(1, 18).Draw(t, "p")
		s := rapid.IntRange(0, p).Draw(t, "s")
		intDigits := rapid.StringMatching(`[0-9]{0,20}`).Draw(t, "int")
		frac := rapid.StringMatching(`[0-9]{0,20}`).Draw(t, "frac")
		if intDigits == "" && frac == "" {
			intDigits = "0"
		}
		text := intDigits
		if frac != "" || rapid.Bool().Draw(t, "point") {
			text += "." + frac
		}
		neg := rapid.Bool().Draw(t, "neg")
		if neg {
			text = "-" + text
		}
		exact, _ := new(big.Rat).SetString(strings.TrimSuffix(text, "."))
		scaled := new(big.Rat).Mul(exact, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil)))
		num := new(big.Int).Abs(scaled.Num())
		q, r := new(big.Int).QuoRem(num, scaled.Denom(), new(big.Int))
		if r.Lsh(r, 1).Cmp(scaled.Denom()) >= 0 {
			q.Add(q, big.NewInt(1))
		}
		if scaled.Sign() < 0 {
			q.Neg(q)
		}
		for _, in := range []string{text, " " + text + " "} {
			got, err := ParseDecimal(in, p, s)
			gotB, errB := ParseDecimalBytes([]byte(in), p, s)
			if got != gotB || (err == nil) != (errB == nil) {
				t.Fatalf("ParseDecimal and ParseDecimalBytes differ on %q: %d %v, %d %v", in, got, err, gotB, errB)
			}
			if !q.IsInt64() || !DecimalFits(q.Int64(), p) {
				if !errors.Is(err, ErrDecimalOverflow) {
					t.Fatalf("%q as DECIMAL(%d, %d): %d %v, want an overflow", in, p, s, got, err)
				}
				continue
			}
			if err != nil || got != q.Int64() {
				t.Fatalf("%q as DECIMAL(%d, %d): %d %v, want %s", in, p, s, got, err, q)
			}
			back, err := ParseDecimal(FormatDecimal(got, s), p, s)
			if err != nil || back != got {
				t.Fatalf("FormatDecimal(%d, %d) = %s reads back as %d %v", got, s, FormatDecimal(got, s), back, err)
			}
		}
	})
}

// TestDecimalValueConversions checks Value formatting and AppendValue's
// conversions into and out of DECIMAL vectors.
func TestDecimalValueConversions(t *testing.T) {
	if got := DecimalValue(384087632, 18, 3).String(); got != "384087.632" {
		t.Fatalf("got %s", got)
	}
	v := Vector{Type: DecimalType(10, 2)}
	v.AppendValue(IntValue(3))
	v.AppendValue(DecimalValue(1255, 6, 3))
	v.AppendValue(FloatValue(0.1))
	v.AppendValue(NullValue(BigInt))
	want := []string{"3.00", "1.26", "0.10", "NULL"}
	for i, w := range want {
		if got := v.Value(i).String(); got != w {
			t.Errorf("row %d: %s, want %s", i, got, w)
		}
	}
	f := Vector{Type: Double}
	f.AppendValue(DecimalValue(-125, 5, 2))
	if f.F64[0] != -1.25 {
		t.Errorf("DECIMAL to DOUBLE vector: %v", f.F64[0])
	}
	for _, bad := range []string{"", "-", ".", "1.2.3", "1e", "x1", "1 2"} {
		if _, err := ParseDecimal(bad, 10, 2); err == nil {
			t.Errorf("ParseDecimal(%q) succeeded", bad)
		}
	}
}
