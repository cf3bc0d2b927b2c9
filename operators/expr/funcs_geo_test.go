package expr

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestGeohashKnownVectors(t *testing.T) {
	for _, c := range []struct {
		lat, lon float64
		prec     int64
		want     string
	}{
		{57.64911, 10.40744, 11, "u4pruydqqvj"}, // the classic example
		{42.6, -5.6, 5, "ezs42"},
		{-25.382708, -49.265506, 8, "6gkzwgjz"},
		{0, 0, 1, "s"},
		{-90, -180, 3, "000"},
		{90, 180, 12, "zzzzzzzzzzzz"},
	} {
		constCase(t, Call("GEOHASH", Float(c.lat), Float(c.lon), Int(c.prec)), V, c.want)
	}
	constCase(t, Call("GEOHASH_LAT", Str("ezs42")), D, "42.60498046875")
	constCase(t, Call("GEOHASH_LON", Str("ezs42")), D, "-5.60302734375")
	constCase(t, Call("GEOHASH", Null(D), Float(1), Int(5)), V, "NULL")
	constCase(t, Call("GEOHASH_LAT", Null(V)), D, "NULL")
}

func TestGeoFunctionsOverColumnsGiveNullForBadValues(t *testing.T) {
	// d: 1.5, NULL, -2.25, 0; b: 10, -3, NULL, 7; s: "abc", "Hello", NULL, ""
	check(t, Call("GEOHASH", Col("d"), Col("d"), Col("b")), V, "s030d1h60s", "NULL", "NULL", "s000000")
	check(t, Call("GEOHASH", Mul(Col("b"), Int(10)), Col("d"), Int(2)), V, "NULL", "NULL", "NULL", "uh")
	// "abc" has an 'a', not in the alphabet; "Hello" upper case; "" empty.
	check(t, Call("GEOHASH_LAT", Col("s")), D, "NULL", "NULL", "NULL", "NULL")
	check(t, Call("ST_DISTANCE", Col("d"), Float(0), Mul(Col("b"), Int(10)), Float(0)), D,
		"NULL", "NULL", "NULL", "7.783655616347303e+06") // 70° of the equator
	check(t, Call("ST_CONTAINS", Str("POLYGON((-5 -5, 5 -5, 5 5, -5 5, -5 -5))"), Col("d"), Col("b")), L,
		"FALSE", "NULL", "NULL", "FALSE")
	check(t, Call("ST_CONTAINS", Str("POLYGON((-5 -5, 5 -5, 5 5, -5 5, -5 -5))"), Col("d"), Col("d")), L,
		"TRUE", "NULL", "TRUE", "TRUE")
	check(t, Call("ST_CONTAINS", Col("s"), Col("d"), Col("d")), L, "NULL", "NULL", "NULL", "NULL")
}

func TestGeoConstantsOutOfRangeFailTheCompile(t *testing.T) {
	for _, c := range []struct {
		e    Expr
		want string
	}{
		{Call("GEOHASH", Float(91), Float(0), Int(5)), "GEOHASH: latitude 91 is outside [-90, 90]"},
		{Call("GEOHASH", Float(0), Float(-180.5), Int(5)), "GEOHASH: longitude -180.5 is outside [-180, 180]"},
		{Call("GEOHASH", Float(0), Float(0), Int(13)), "GEOHASH: precision 13 is outside 1–12"},
		{Call("GEOHASH", Float(0), Float(0), Int(0)), "GEOHASH: precision 0 is outside 1–12"},
		{Call("GEOHASH", Div(Float(0), Float(0)), Float(0), Int(3)), ""}, // 0/0 is NULL, not NaN
		{Call("GEOHASH_LON", Str("u4pa")), "GEOHASH_LON: 'u4pa' is not a geohash"},
		{Call("GEOHASH_LAT", Str("")), "GEOHASH_LAT: '' is not a geohash"},
		{Call("ST_DISTANCE", Float(0), Float(0), Float(-95), Float(0)), "ST_DISTANCE: latitude -95 is outside [-90, 90]"},
		{Call("ST_CONTAINS", Str("POLYGON((0 0, 1 0, 1 1, 0 0))"), Float(0), Float(200)), "ST_CONTAINS: longitude 200 is outside"},
		{Call("ST_CONTAINS", Str("POLYGON((0 0, 1 0, 1 1, 0 1))"), Float(0), Float(0)), "at offset 9: the ring is not closed"},
		{Call("ST_CONTAINS", Str("POLYGON((0 0, 1 0, 0 0))"), Float(0), Float(0)), "a ring needs at least 4 points, got 3"},
		{Call("ST_CONTAINS", Str("POINT(0 0)"), Float(0), Float(0)), "POINT is not supported"},
		{Call("ST_CONTAINS", Str("POLYGON((0 0, 1 0, 1 x, 0 0))"), Float(0), Float(0)), "at offset 21: expected a number, got 'x'"},
		{Call("ST_CONTAINS", Str("POLYGON((0 0, 1 0, 1 95, 0 0))"), Float(0), Float(0)), "latitude 95 is outside [-90, 90] (WKT points are lon lat)"},
		{Call("ST_CONTAINS", Str("POLYGON((0 0, 1 0, 1 1, 0 0)"), Float(0), Float(0)), "expected ')', got the end of the text"},
		{Call("ST_CONTAINS", Str("POLYGON((0 0, 1 0, 1 1, 0 0)) x"), Float(0), Float(0)), "unexpected \"x\" after the shape"},
	} {
		_, err := Compile(c.e, testSchema)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.e, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.e, err, c.want)
		}
	}
}

// TestGeohashRoundTrip: the centre of the cell of a point's geohash lies
// within half a cell of the point, and encodes to the same geohash.
func TestGeohashRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		lat := rapid.Float64Range(-90, 90).Draw(t, "lat")
		lon := rapid.Float64Range(-180, 180).Draw(t, "lon")
		prec := rapid.IntRange(1, 12).Draw(t, "prec")
		h := string(geohashEncode(nil, lat, lon, prec))
		if len(h) != prec {
			t.Fatalf("geohash %q has %d characters, want %d", h, len(h), prec)
		}
		latBits, lonBits := prec*5/2, prec*5-prec*5/2
		halfLat, halfLon := 90/math.Ldexp(1, latBits), 180/math.Ldexp(1, lonBits)
		cl := evalColumn(t, Call("GEOHASH_LAT", Col("x")), runtime.Varchar, []runtime.Value{runtime.StringValue(h)}, runtime.StringValue("junk"))
		co := evalColumn(t, Call("GEOHASH_LON", Col("x")), runtime.Varchar, []runtime.Value{runtime.StringValue(h)}, runtime.StringValue("junk"))
		cLat, cLon := parseF(t, cl[0]), parseF(t, co[0])
		if math.Abs(cLat-lat) > halfLat || math.Abs(cLon-lon) > halfLon {
			t.Fatalf("%q: centre (%v, %v) is farther than (%v, %v) from (%v, %v)", h, cLat, cLon, halfLat, halfLon, lat, lon)
		}
		if g := string(geohashEncode(nil, cLat, cLon, prec)); g != h {
			t.Fatalf("centre of %q encodes to %q", h, g)
		}
	})
}

func parseF(t *rapid.T, s string) float64 {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return x
}

// TestDistanceKnownCities checks ST_DISTANCE against great-circle
// distances on the sphere of radius 6,371,008.8 m.
func TestDistanceKnownCities(t *testing.T) {
	for _, c := range []struct {
		lat1, lon1, lat2, lon2 float64
		km, tol                float64
	}{
		{48.8566, 2.3522, 51.5074, -0.1278, 343.5, 0.1},     // Paris – London
		{40.7128, -74.0060, 51.5074, -0.1278, 5570, 1},      // New York – London
		{0, 0, 0, 180, math.Pi * earthRadius / 1000, 1e-6},  // half the equator
		{90, 0, -90, 0, math.Pi * earthRadius / 1000, 1e-6}, // pole to pole
		{0, 0, 0, 1, 2 * math.Pi * earthRadius / 360 / 1000, 1e-9},
		{12.5, 7, 12.5, 7, 0, 0},
	} {
		c1, err := Compile(Call("ST_DISTANCE", Float(c.lat1), Float(c.lon1), Float(c.lat2), Float(c.lon2)), testSchema)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := c1.Const()
		if !ok || c1.Type() != D {
			t.Fatalf("not a DOUBLE constant: %v", v)
		}
		if math.Abs(v.F/1000-c.km) > c.tol {
			t.Errorf("ST_DISTANCE(%v, %v, %v, %v) = %.3f km, want %.2f", c.lat1, c.lon1, c.lat2, c.lon2, v.F/1000, c.km)
		}
	}
}

// TestDistanceMatchesVectorFormula compares the haversine with the
// great-circle distance computed from unit vectors (atan2 of the cross
// and dot products, well conditioned everywhere).
func TestDistanceMatchesVectorFormula(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		lat1, lat2 := rapid.Float64Range(-90, 90).Draw(t, "lat1"), rapid.Float64Range(-90, 90).Draw(t, "lat2")
		lon1, lon2 := rapid.Float64Range(-180, 180).Draw(t, "lon1"), rapid.Float64Range(-180, 180).Draw(t, "lon2")
		unit := func(lat, lon float64) [3]float64 {
			a, o := lat*math.Pi/180, lon*math.Pi/180
			return [3]float64{math.Cos(a) * math.Cos(o), math.Cos(a) * math.Sin(o), math.Sin(a)}
		}
		p, q := unit(lat1, lon1), unit(lat2, lon2)
		cx, cy, cz := p[1]*q[2]-p[2]*q[1], p[2]*q[0]-p[0]*q[2], p[0]*q[1]-p[1]*q[0]
		want := earthRadius * math.Atan2(math.Sqrt(cx*cx+cy*cy+cz*cz), p[0]*q[0]+p[1]*q[1]+p[2]*q[2])
		if got := haversine(lat1, lon1, lat2, lon2); math.Abs(got-want) > 0.5 {
			t.Fatalf("haversine = %v m, vector formula %v m", got, want)
		}
	})
}

// starRing draws a closed ring of integer points around (cx, cy), one
// point in each eighth of the circle at a radius in [rmin, rmax], sorted by
// angle: a simple, star-shaped ring.
func starRing(t *rapid.T, name string, cx, cy, rmin, rmax float64) []float64 {
	type pt struct{ x, y, a float64 }
	var pts []pt
	for k := range 8 {
		a := (float64(k) + rapid.Float64Range(0.1, 0.9).Draw(t, name+"a")) * math.Pi / 4
		r := rapid.Float64Range(rmin, rmax).Draw(t, name+"r")
		x, y := math.Round(r*math.Cos(a)), math.Round(r*math.Sin(a))
		pts = append(pts, pt{x, y, math.Atan2(y, x)})
	}
	slices.SortFunc(pts, func(p, q pt) int { return int(math.Copysign(1, p.a-q.a)) })
	pts = slices.CompactFunc(pts, func(p, q pt) bool { return p.a == q.a })
	var ring []float64
	for _, p := range append(pts, pts[0]) {
		ring = append(ring, cx+p.x, cy+p.y)
	}
	return ring
}

func ringWKT(ring []float64) string {
	var b strings.Builder
	b.WriteString("(")
	for j := 0; j < len(ring); j += 2 {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%g %g", ring[j], ring[j+1])
	}
	b.WriteString(")")
	return b.String()
}

// windingNumber is the reference: the number of times the ring winds
// around (x, y) (Sunday's algorithm), and whether (x, y) is on an edge.
func windingNumber(ring []float64, x, y float64) (wn int, onEdge bool) {
	for j := 0; j+3 < len(ring); j += 2 {
		ax, ay, bx, by := ring[j], ring[j+1], ring[j+2], ring[j+3]
		cross := (bx-ax)*(y-ay) - (x-ax)*(by-ay)
		if cross == 0 && (x-ax)*(x-bx)+(y-ay)*(y-by) <= 0 {
			onEdge = true
		}
		if ay <= y {
			if by > y && cross > 0 {
				wn++
			}
		} else if by <= y && cross < 0 {
			wn--
		}
	}
	return wn, onEdge
}

// TestContainsMatchesWindingNumber checks ST_CONTAINS over random
// polygons with holes and multipolygons against the winding number, with
// points on vertices and edges (the boundary, of a shell or a hole,
// counts as inside).
func TestContainsMatchesWindingNumber(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		type poly struct{ rings [][]float64 }
		var polys []poly
		for k := range rapid.IntRange(1, 3).Draw(t, "polygons") {
			cx := float64(k * 250)
			p := poly{rings: [][]float64{starRing(t, "shell", cx, 0, 60, 100)}}
			if rapid.Bool().Draw(t, "hole") {
				if h := starRing(t, "hole", cx, 0, 5, 25); len(h) >= 8 {
					p.rings = append(p.rings, h)
				}
			}
			polys = append(polys, p)
		}
		var wkt string
		if len(polys) == 1 && rapid.Bool().Draw(t, "plain") {
			wkt = "POLYGON(" + ringsWKT(polys[0].rings) + ")"
		} else {
			var parts []string
			for _, p := range polys {
				parts = append(parts, "("+ringsWKT(p.rings)+")")
			}
			wkt = "MULTIPOLYGON(" + strings.Join(parts, ", ") + ")"
		}
		// Points: random ones, vertices and midpoints of edges.
		var xs, ys []float64
		for range rapid.IntRange(1, 30).Draw(t, "points") {
			switch rapid.IntRange(0, 2).Draw(t, "kind") {
			case 0:
				xs = append(xs, float64(rapid.IntRange(-110, 110+250*(len(polys)-1)).Draw(t, "x")))
				ys = append(ys, float64(rapid.IntRange(-90, 90).Draw(t, "y")))
			default:
				p := rapid.SampledFrom(polys).Draw(t, "poly")
				r := rapid.SampledFrom(p.rings).Draw(t, "ring")
				j := 2 * rapid.IntRange(0, len(r)/2-2).Draw(t, "edge")
				xs = append(xs, (r[j]+r[j+2])/2)
				ys = append(ys, (r[j+1]+r[j+3])/2)
			}
		}
		s := runtime.NewSchema(runtime.Field{Name: "lon", Type: runtime.Double}, runtime.Field{Name: "lat", Type: runtime.Double})
		var rows [][]runtime.Value
		for i := range xs {
			rows = append(rows, []runtime.Value{runtime.FloatValue(xs[i] / 4), runtime.FloatValue(ys[i] / 4)})
		}
		// Scaled by 1/4 into degrees: exact in binary, so edges stay exact.
		c, err := Compile(Call("ST_CONTAINS", Str(scaleWKT(wkt)), Col("lat"), Col("lon")), s)
		if err != nil {
			t.Fatalf("%s: %v", wkt, err)
		}
		var out runtime.Vector
		c.Eval(rttest.NewBatch(s, rows...), &out)
		for i := range xs {
			want := false
			for _, p := range polys {
				in := true
				for r, ring := range p.rings {
					wn, edge := windingNumber(ring, xs[i], ys[i])
					if edge {
						want = true
						break
					}
					if (wn != 0) != (r == 0) {
						in = false
					}
				}
				want = want || in
			}
			if got := out.Value(i).String(); got != strings.ToUpper(strconv.FormatBool(want)) {
				t.Fatalf("%s contains (%v, %v): got %s, want %v", wkt, xs[i], ys[i], got, want)
			}
		}
	})
}

func ringsWKT(rings [][]float64) string {
	var parts []string
	for _, r := range rings {
		parts = append(parts, ringWKT(r))
	}
	return strings.Join(parts, ", ")
}

// scaleWKT divides every number of wkt by 4.
func scaleWKT(wkt string) string {
	var b strings.Builder
	var num strings.Builder
	flush := func() {
		if num.Len() > 0 {
			x, _ := strconv.ParseFloat(num.String(), 64)
			b.WriteString(strconv.FormatFloat(x/4, 'g', -1, 64))
			num.Reset()
		}
	}
	for _, r := range wkt {
		if r == '-' || r == '.' || r >= '0' && r <= '9' {
			num.WriteRune(r)
			continue
		}
		flush()
		b.WriteRune(r)
	}
	flush()
	return b.String()
}

func TestContainsNonConstantWKTIsParsedPerValue(t *testing.T) {
	square := "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))"
	holed := "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (4 4, 6 4, 6 6, 4 6, 4 4))"
	vs := []runtime.Value{sv(square), sv(holed), sv("POLYGON((0 0))"), null(V), sv(holed), sv(square)}
	got := evalColumn(t, Call("ST_CONTAINS", Col("x"), Float(5), Float(5)), V, vs, sv("junk"))
	want := []string{"TRUE", "FALSE", "NULL", "NULL", "FALSE", "TRUE"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func latExpr() Expr { return Sub(Mul(Col("d"), Float(0.18)), Float(90)) }
func lonExpr() Expr { return Sub(Mul(Col("d"), Float(0.36)), Float(180)) }

func BenchmarkFuncGeohash(b *testing.B) { benchFunc(b, Call("GEOHASH", latExpr(), lonExpr(), Int(7))) }
func BenchmarkFuncGeohashLat(b *testing.B) {
	benchFunc(b, Call("GEOHASH_LAT", Call("GEOHASH", latExpr(), lonExpr(), Int(7))))
}
func BenchmarkFuncSTDistance(b *testing.B) {
	benchFunc(b, Call("ST_DISTANCE", latExpr(), lonExpr(), Float(48.8566), Float(2.3522)))
}
func BenchmarkFuncSTContains(b *testing.B) {
	benchFunc(b, Call("ST_CONTAINS",
		Str("POLYGON((-100 -50, 100 -50, 100 50, 20 60, -100 50, -100 -50), (-10 -10, 10 -10, 10 10, -10 10, -10 -10))"),
		latExpr(), lonExpr()))
}

func TestGeoColumnNaNAndInfinityGiveNull(t *testing.T) {
	vs := []runtime.Value{fv(math.NaN()), fv(45), fv(math.Inf(1)), fv(-90)}
	for _, c := range []struct {
		e    Expr
		want []string
	}{
		{Call("GEOHASH", Col("x"), Float(0), Int(3)), []string{"NULL", "u00", "NULL", "h00"}},
		{Call("GEOHASH", Float(0), Col("x"), Int(1)), []string{"NULL", "t", "NULL", "d"}},
		{Call("ST_DISTANCE", Col("x"), Float(0), Float(0), Float(0)), []string{"NULL", "5.003778610508981e+06", "NULL", "1.000755722101796e+07"}},
		{Call("ST_CONTAINS", Str("POLYGON((-180 -90, 180 -90, 180 90, -180 90, -180 -90))"), Col("x"), Float(0)), []string{"NULL", "TRUE", "NULL", "TRUE"}},
	} {
		if got := evalColumn(t, c.e, D, vs, fv(1)); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.e, got, c.want)
		}
	}
	check(t, Call("GEOHASH", Float(0), Float(0), Col("b")), V, "s000000000", "NULL", "NULL", "s000000")
}

func TestGeoArgumentTypesAreChecked(t *testing.T) {
	for _, c := range []struct {
		e    Expr
		want string
	}{
		{Call("GEOHASH", Float(0), Float(0), Str("5")), "GEOHASH's 3rd argument is VARCHAR, not INT or BIGINT"},
		{Call("GEOHASH", Float(0), Str("0"), Int(5)), "GEOHASH's 2nd argument is VARCHAR, not numeric"},
		{Call("ST_DISTANCE", Float(0), Float(0), Float(0), Col("t")), "ST_DISTANCE's 4th argument is TIMESTAMP(3), not numeric"},
		{Call("ST_CONTAINS", Int(1), Float(0), Float(0)), "ST_CONTAINS's 1st argument is BIGINT, not VARCHAR"},
		{Call("GEOHASH_LAT", Float(1)), "GEOHASH_LAT's 1st argument is DOUBLE, not VARCHAR"},
		{Call("GEOHASH", Float(0), Float(0)), "GEOHASH takes 3 arguments, got 2"},
	} {
		if _, err := Compile(c.e, testSchema); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.e, err, c.want)
		}
	}
}

// TestGeohashOfRepeatedCellsDoesNotAllocatePerRow: rows in a few cells
// reuse the cells' strings.
func TestGeohashOfRepeatedCellsDoesNotAllocatePerRow(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "lat", Type: runtime.Double}, runtime.Field{Name: "lon", Type: runtime.Double})
	var rows [][]runtime.Value
	for i := range 1000 {
		rows = append(rows, []runtime.Value{fv(48.85 + float64(i%4)*0.1), fv(2.35 + float64(i%3)*0.1)})
	}
	in := rttest.NewBatch(s, rows...)
	c, err := Compile(Call("GEOHASH", Col("lat"), Col("lon"), Int(6)), s)
	if err != nil {
		t.Fatal(err)
	}
	var out runtime.Vector
	c.Eval(in, &out)
	first := out.Value(0).String()
	if allocs := testing.AllocsPerRun(10, func() { c.Eval(in, &out) }); allocs > 20 {
		t.Fatalf("%v allocations for %d rows in 12 cells", allocs, len(rows))
	}
	if got := out.Value(0).String(); got != first || got != string(geohashEncode(nil, 48.85, 2.35, 6)) {
		t.Fatalf("row 0: %s, then %s", first, got)
	}
}
