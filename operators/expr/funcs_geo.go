package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// Location functions: GEOHASH, GEOHASH_LAT, GEOHASH_LON, ST_DISTANCE and
// ST_CONTAINS. Coordinates are degrees (WGS 84 latitude and longitude).
// A constant argument out of range (a latitude outside [-90, 90], a
// longitude outside [-180, 180], NaN, a precision outside 1–12, a bad
// geohash or WKT text) is a compile error naming the function and the
// value; the same value from a column makes the row's result NULL, so that
// one bad reading never stops a job.

func init() {
	for name, f := range map[string]function{
		"GEOHASH":     {3, 3, geohashFunc},
		"GEOHASH_LAT": {1, 1, geohashCentre(true)},
		"GEOHASH_LON": {1, 1, geohashCentre(false)},
		"ST_DISTANCE": {4, 4, stDistance},
		"ST_CONTAINS": {3, 3, stContains},
	} {
		functions[name] = f
	}
}

// earthRadius is the mean radius of the Earth in metres (IUGG R1), the
// radius of ST_DISTANCE's sphere.
const earthRadius = 6371008.8

// geohashMaxPrecision is the longest geohash GEOHASH makes (12 characters,
// cells of about 37 mm × 19 mm).
const geohashMaxPrecision = 12

const geohashBase32 = "0123456789bcdefghjkmnpqrstuvwxyz"

// geohashValue maps a byte to its 5-bit value in the geohash alphabet, or
// -1 for a byte not in it (geohashes are lower case).
var geohashValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(geohashBase32); i++ {
		t[geohashBase32[i]] = int8(i)
	}
	return t
}()

func validLat(x float64) bool { return x >= -90 && x <= 90 }
func validLon(x float64) bool { return x >= -180 && x <= 180 }

// geohashEncode appends the geohash of (lat, lon) with prec characters to
// dst: bits alternate longitude and latitude, starting with longitude,
// each halving the cell (a coordinate on a midpoint goes to the upper half).
func geohashEncode(dst []byte, lat, lon float64, prec int) []byte {
	latLo, latHi, lonLo, lonHi := -90.0, 90.0, -180.0, 180.0
	even := true
	for range prec {
		var ch byte
		for range 5 {
			ch <<= 1
			if even {
				if mid := (lonLo + lonHi) / 2; lon >= mid {
					ch |= 1
					lonLo = mid
				} else {
					lonHi = mid
				}
			} else {
				if mid := (latLo + latHi) / 2; lat >= mid {
					ch |= 1
					latLo = mid
				} else {
					latHi = mid
				}
			}
			even = !even
		}
		dst = append(dst, geohashBase32[ch])
	}
	return dst
}

// geohashDecode returns the bounds of the cell of geohash s; ok is false
// for an empty s, one longer than 12 characters or one with a character
// outside the geohash alphabet.
func geohashDecode(s string) (latLo, latHi, lonLo, lonHi float64, ok bool) {
	if len(s) == 0 || len(s) > geohashMaxPrecision {
		return 0, 0, 0, 0, false
	}
	latLo, latHi, lonLo, lonHi = -90, 90, -180, 180
	even := true
	for i := 0; i < len(s); i++ {
		v := geohashValue[s[i]]
		if v < 0 {
			return 0, 0, 0, 0, false
		}
		for b := 4; b >= 0; b-- {
			bit := v>>b&1 == 1
			if even {
				mid := (lonLo + lonHi) / 2
				if bit {
					lonLo = mid
				} else {
					lonHi = mid
				}
			} else {
				mid := (latLo + latHi) / 2
				if bit {
					latLo = mid
				} else {
					latHi = mid
				}
			}
			even = !even
		}
	}
	return latLo, latHi, lonLo, lonHi, true
}

// constFloat returns the value of a non-NULL DOUBLE constant.
func constFloat(n *node) (float64, bool) {
	if n.konst == nil || n.konst.Null || n.typ != runtime.Double {
		return 0, false
	}
	return n.konst.F, true
}

// geoDoubles checks that args[from:] are numbers (DECIMAL literals such as
// 48.85 among them), coerces them to DOUBLE and checks the constant ones:
// kinds has 'a' for a latitude and 'o' for a longitude.
func (c *compiler) geoDoubles(e *callExpr, args []*node, from int, kinds string) error {
	for k := range kinds {
		i := from + k
		if err := wantArg(e, args, i, "numeric", func(t runtime.Type) bool { return t.Numeric() || t.IsDecimal() }); err != nil {
			return err
		}
		args[i] = c.coerce(args[i], runtime.Double)
		x, ok := constFloat(args[i])
		if !ok {
			continue
		}
		if kinds[k] == 'a' && !validLat(x) {
			return errorf(e, "%s: latitude %s is outside [-90, 90]", e.name, fmtCoord(x))
		}
		if kinds[k] == 'o' && !validLon(x) {
			return errorf(e, "%s: longitude %s is outside [-180, 180]", e.name, fmtCoord(x))
		}
	}
	return nil
}

func fmtCoord(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// geohashFunc compiles GEOHASH(lat, lon, precision): the geohash of the
// point with precision characters.
func geohashFunc(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := wantArg(e, args, 2, "INT or BIGINT", intLike); err != nil {
		return nil, err
	}
	if err := c.geoDoubles(e, args, 0, "ao"); err != nil {
		return nil, err
	}
	if p := args[2]; p.konst != nil && !p.konst.Null && (p.konst.I < 1 || p.konst.I > geohashMaxPrecision) {
		return nil, errorf(e, "GEOHASH: precision %d is outside 1–12", p.konst.I)
	}
	if n := anyNullConst(runtime.Varchar, args); n != nil {
		return n, nil
	}
	var buf [geohashMaxPrecision]byte
	var cells cellCache
	return rowKernel(runtime.Varchar, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		lat, lon, prec := p[0].F64[i], p[1].F64[i], p[2].I64[i]
		if !validLat(lat) || !validLon(lon) || prec < 1 || prec > geohashMaxPrecision {
			return false
		}
		out.Str[i] = cells.get(geohashEncode(buf[:0], lat, lon, int(prec)))
		return true
	}), nil
}

// cellCache keeps the geohash strings made recently, one per slot chosen
// by the last characters, so that points in the same cells (vehicles in a
// city) cost no allocation per row.
type cellCache [64]string

func (c *cellCache) get(b []byte) string {
	k := len(b)
	if k > 0 {
		k = k*31 + int(b[k-1])*7
		if len(b) > 1 {
			k += int(b[len(b)-2]) * 131
		}
	}
	slot := &c[k&(len(c)-1)]
	if *slot != string(b) {
		*slot = string(b)
	}
	return *slot
}

// geohashCentre compiles GEOHASH_LAT(cell) (lat) or GEOHASH_LON(cell): the
// latitude or longitude of the centre of the cell.
func geohashCentre(lat bool) func(*compiler, *callExpr, []*node) (*node, error) {
	return func(c *compiler, e *callExpr, args []*node) (*node, error) {
		if err := checkArgs(e, args, "s"); err != nil {
			return nil, err
		}
		if s, ok := constString(args[0]); ok {
			if _, _, _, _, ok := geohashDecode(s); !ok {
				return nil, errorf(e, "%s: '%s' is not a geohash (1 to 12 of %s)", e.name, s, geohashBase32)
			}
		}
		if n := anyNullConst(runtime.Double, args); n != nil {
			return n, nil
		}
		return rowKernel(runtime.Double, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
			latLo, latHi, lonLo, lonHi, ok := geohashDecode(p[0].Str[i])
			if lat {
				out.F64[i] = (latLo + latHi) / 2
			} else {
				out.F64[i] = (lonLo + lonHi) / 2
			}
			return ok
		}), nil
	}
}

// haversine is the great-circle distance in metres between two points on
// a sphere of the Earth's mean radius.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	p1, p2 := lat1*rad, lat2*rad
	sdLat := math.Sin((p2 - p1) / 2)
	sdLon := math.Sin((lon2 - lon1) * rad / 2)
	a := sdLat*sdLat + math.Cos(p1)*math.Cos(p2)*sdLon*sdLon
	return 2 * earthRadius * math.Asin(math.Sqrt(min(1, a)))
}

// stDistance compiles ST_DISTANCE(lat1, lon1, lat2, lon2): metres along
// the great circle (haversine).
func stDistance(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := c.geoDoubles(e, args, 0, "aoao"); err != nil {
		return nil, err
	}
	if n := anyNullConst(runtime.Double, args); n != nil {
		return n, nil
	}
	return rowKernel(runtime.Double, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		lat1, lon1, lat2, lon2 := p[0].F64[i], p[1].F64[i], p[2].F64[i], p[3].F64[i]
		if !validLat(lat1) || !validLon(lon1) || !validLat(lat2) || !validLon(lon2) {
			return false
		}
		out.F64[i] = haversine(lat1, lon1, lat2, lon2)
		return true
	}), nil
}

// stContains compiles ST_CONTAINS(wkt, lat, lon): whether the POLYGON or
// MULTIPOLYGON wkt contains the point; its boundary counts as inside. A
// constant wkt is parsed once; a column's are parsed per distinct value
// (cached), an invalid one making the row NULL.
func stContains(c *compiler, e *callExpr, args []*node) (*node, error) {
	if err := checkArgs(e, args[:1], "s"); err != nil {
		return nil, err
	}
	var shape func(string) *geoShape
	s, isConst := constString(args[0])
	if isConst {
		g, err := parseWKT(s)
		if err != nil {
			return nil, errorf(e.args[0], "ST_CONTAINS: invalid WKT: %v", err)
		}
		shape = func(string) *geoShape { return g }
	} else {
		cc := newCache(parseWKT)
		shape = func(s string) *geoShape {
			g, err := cc.get(s)
			if err != nil {
				return nil
			}
			return g
		}
	}
	if err := c.geoDoubles(e, args, 1, "ao"); err != nil {
		return nil, err
	}
	if n := anyNullConst(runtime.Boolean, args); n != nil {
		return n, nil
	}
	return rowKernel(runtime.Boolean, true, args, func(p []*runtime.Vector, i int, out *runtime.Vector) bool {
		lat, lon := p[1].F64[i], p[2].F64[i]
		if !validLat(lat) || !validLon(lon) {
			return false
		}
		g := shape(p[0].Str[i])
		if g == nil {
			return false
		}
		out.I64[i] = b2i(g.contains(lon, lat))
		return true
	}), nil
}

// geoShape is a parsed POLYGON or MULTIPOLYGON: polygons of rings of
// (x, y) = (lon, lat) points, each ring closed (last point = first).
type geoShape struct {
	polys []geoPolygon
}

type geoPolygon struct {
	rings                  [][]float64 // x0, y0, x1, y1, …; rings[0] the shell, then holes
	minX, minY, maxX, maxY float64     // the shell's bounding box
}

func (g *geoShape) contains(x, y float64) bool {
	for k := range g.polys {
		if g.polys[k].contains(x, y) {
			return true
		}
	}
	return false
}

// contains: inside the shell and outside every hole, or on a boundary.
func (p *geoPolygon) contains(x, y float64) bool {
	if x < p.minX || x > p.maxX || y < p.minY || y > p.maxY {
		return false
	}
	for r, ring := range p.rings {
		in, edge := ringContains(ring, x, y)
		if edge {
			return true
		}
		if in != (r == 0) {
			return false
		}
	}
	return true
}

// ringContains tells whether (x, y) lies inside the closed ring by the
// crossing number (even-odd) rule, and whether it lies on one of its edges.
func ringContains(ring []float64, x, y float64) (in, edge bool) {
	for j := 0; j+3 < len(ring); j += 2 {
		x1, y1, x2, y2 := ring[j], ring[j+1], ring[j+2], ring[j+3]
		if onSegment(x1, y1, x2, y2, x, y) {
			return false, true
		}
		if (y1 > y) != (y2 > y) && x < x1+(y-y1)*(x2-x1)/(y2-y1) {
			in = !in
		}
	}
	return in, false
}

func onSegment(x1, y1, x2, y2, x, y float64) bool {
	if x < min(x1, x2) || x > max(x1, x2) || y < min(y1, y2) || y > max(y1, y2) {
		return false
	}
	return (x2-x1)*(y-y1)-(y2-y1)*(x-x1) == 0
}

// parseWKT parses a POLYGON or MULTIPOLYGON in well-known text (x y =
// longitude latitude; keywords in any case). Errors give the byte offset
// in the text.
func parseWKT(s string) (*geoShape, error) {
	w := &wktParser{s: s}
	w.space()
	start := w.i
	for w.i < len(s) && (s[w.i] >= 'a' && s[w.i] <= 'z' || s[w.i] >= 'A' && s[w.i] <= 'Z') {
		w.i++
	}
	g := &geoShape{}
	switch kw := strings.ToUpper(s[start:w.i]); kw {
	case "POLYGON":
		p, err := w.polygon()
		if err != nil {
			return nil, err
		}
		g.polys = append(g.polys, p)
	case "MULTIPOLYGON":
		if err := w.expect('('); err != nil {
			return nil, err
		}
		for {
			p, err := w.polygon()
			if err != nil {
				return nil, err
			}
			g.polys = append(g.polys, p)
			if !w.accept(',') {
				break
			}
		}
		if err := w.expect(')'); err != nil {
			return nil, err
		}
	default:
		if kw == "" {
			return nil, w.errorf(start, "expected POLYGON or MULTIPOLYGON")
		}
		return nil, w.errorf(start, "%s is not supported: expected POLYGON or MULTIPOLYGON", kw)
	}
	w.space()
	if w.i < len(s) {
		return nil, w.errorf(w.i, "unexpected %q after the shape", s[w.i:])
	}
	return g, nil
}

type wktParser struct {
	s string
	i int
}

func (w *wktParser) errorf(at int, format string, args ...any) error {
	return fmt.Errorf("at offset %d: %s", at, fmt.Sprintf(format, args...))
}

func (w *wktParser) space() {
	for w.i < len(w.s) && (w.s[w.i] == ' ' || w.s[w.i] == '\t' || w.s[w.i] == '\n' || w.s[w.i] == '\r') {
		w.i++
	}
}

func (w *wktParser) accept(ch byte) bool {
	w.space()
	if w.i < len(w.s) && w.s[w.i] == ch {
		w.i++
		return true
	}
	return false
}

func (w *wktParser) expect(ch byte) error {
	if w.accept(ch) {
		return nil
	}
	if w.i >= len(w.s) {
		return w.errorf(w.i, "expected '%c', got the end of the text", ch)
	}
	return w.errorf(w.i, "expected '%c', got '%c'", ch, w.s[w.i])
}

// polygon parses ((ring), (hole), …).
func (w *wktParser) polygon() (geoPolygon, error) {
	var p geoPolygon
	if err := w.expect('('); err != nil {
		return p, err
	}
	for {
		r, err := w.ring()
		if err != nil {
			return p, err
		}
		p.rings = append(p.rings, r)
		if !w.accept(',') {
			break
		}
	}
	if err := w.expect(')'); err != nil {
		return p, err
	}
	p.minX, p.minY, p.maxX, p.maxY = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	shell := p.rings[0]
	for j := 0; j < len(shell); j += 2 {
		p.minX, p.maxX = min(p.minX, shell[j]), max(p.maxX, shell[j])
		p.minY, p.maxY = min(p.minY, shell[j+1]), max(p.maxY, shell[j+1])
	}
	return p, nil
}

// ring parses (x y, x y, …): at least 4 points, closed, in range.
func (w *wktParser) ring() ([]float64, error) {
	if err := w.expect('('); err != nil {
		return nil, err
	}
	start := w.i
	var r []float64
	for {
		w.space()
		at := w.i
		x, err := w.number()
		if err != nil {
			return nil, err
		}
		y, err := w.number()
		if err != nil {
			return nil, err
		}
		if !validLon(x) {
			return nil, w.errorf(at, "longitude %s is outside [-180, 180] (WKT points are lon lat)", fmtCoord(x))
		}
		if !validLat(y) {
			return nil, w.errorf(at, "latitude %s is outside [-90, 90] (WKT points are lon lat)", fmtCoord(y))
		}
		r = append(r, x, y)
		if !w.accept(',') {
			break
		}
	}
	if err := w.expect(')'); err != nil {
		return nil, err
	}
	n := len(r) / 2
	if n < 4 {
		return nil, w.errorf(start, "a ring needs at least 4 points, got %d", n)
	}
	if r[0] != r[len(r)-2] || r[1] != r[len(r)-1] {
		return nil, w.errorf(start, "the ring is not closed: its last point must equal its first")
	}
	return r, nil
}

func (w *wktParser) number() (float64, error) {
	w.space()
	start := w.i
	for w.i < len(w.s) && strings.IndexByte("+-.0123456789eE", w.s[w.i]) >= 0 {
		w.i++
	}
	if start == w.i {
		if w.i >= len(w.s) {
			return 0, w.errorf(w.i, "expected a number, got the end of the text")
		}
		return 0, w.errorf(w.i, "expected a number, got '%c'", w.s[w.i])
	}
	x, err := strconv.ParseFloat(w.s[start:w.i], 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, w.errorf(start, "%q is not a number", w.s[start:w.i])
	}
	return x, nil
}
