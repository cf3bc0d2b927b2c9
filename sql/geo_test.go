package sql

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// geoRows are vehicle readings: known geohashes (Aalborg's classic
// u4pruydqqvj, London's gcpvj…, Paris's u09tv…), a NULL and an
// out-of-range latitude.
var geoRows = []struct {
	id       int
	lat, lon string
	sec      int
}{
	{1, "57.64911", "10.40744", 0},
	{2, "51.5074", "-0.1278", 1},
	{3, "48.8566", "2.3522", 2},
	{4, "null", "2.3522", 3},
	{5, "95", "2.3522", 4},
	{6, "48.86", "2.35", 12},
	{7, "51.5", "-0.12", 13},
}

func writeGeoRows(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	for _, r := range geoRows {
		fmt.Fprintf(&b, `{"id": %d, "lat": %s, "lon": %s, "ts": "2026-01-01 00:00:%02d.000"}`+"\n", r.id, r.lat, r.lon, r.sec)
	}
	path := filepath.Join(dir, "vehicles.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGeoFunctionsEndToEnd runs the location functions over a file of
// readings: known geohashes, haversine distances to London, a geofence
// around central Paris with a hole, and NULL for a NULL or an
// out-of-range coordinate, at parallelism 1 and 3.
func TestGeoFunctionsEndToEnd(t *testing.T) {
	path := writeGeoRows(t)
	for _, par := range []int{1, 3} {
		run(t, fmt.Sprintf(`
CREATE TABLE vehicles (id BIGINT, lat DOUBLE, lon DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out
SELECT id, GEOHASH(lat, lon, 11) AS cell,
       ST_DISTANCE(lat, lon, 51.5074, -0.1278) AS to_london,
       ST_CONTAINS('POLYGON((2.2 48.8, 2.5 48.8, 2.5 48.9, 2.2 48.9, 2.2 48.8), (2.34 48.85, 2.345 48.85, 2.345 48.855, 2.34 48.855, 2.34 48.85))', lat, lon) AS in_paris,
       ROUND(GEOHASH_LAT(GEOHASH(lat, lon, 5)), 4) AS clat, ROUND(GEOHASH_LON(GEOHASH(lat, lon, 5)), 4) AS clon
FROM vehicles;`, path), par)
		got := collected("out").Sorted()
		if len(got) != len(geoRows) {
			t.Fatalf("parallelism %d: %d rows, want %d: %q", par, len(got), len(geoRows), got)
		}
		byID := map[string][]string{}
		for _, r := range got {
			f := strings.Split(r, ",")
			byID[f[0]] = f
		}
		want := map[string][2]string{ // id → cell, in_paris
			"1": {"u4pruydqqvj", "FALSE"}, "2": {"gcpvj0duq53", "FALSE"}, "3": {"u09tvw0f64r", "TRUE"},
			"4": {"NULL", "NULL"}, "5": {"NULL", "NULL"}, "6": {"u09tv", "TRUE"}, "7": {"gcpuv", "FALSE"},
		}
		for id, w := range want {
			f := byID[id]
			if !strings.HasPrefix(f[1], w[0]) || f[3] != w[1] {
				t.Errorf("parallelism %d: id %s: cell %s, in_paris %s; want %s…, %s", par, id, f[1], f[3], w[0], w[1])
			}
		}
		// Paris – London ≈ 343.5 km on the mean Earth radius.
		if d, _ := strconv.ParseFloat(byID["3"][2], 64); math.Abs(d-343_500) > 100 {
			t.Errorf("Paris to London: %v m", d)
		}
		if byID["2"][2] != "0.0" || byID["4"][2] != "NULL" || byID["5"][2] != "NULL" {
			t.Errorf("distances: %q %q %q", byID["2"], byID["4"], byID["5"])
		}
		// The centre of Aalborg's 5-character cell u4pru.
		if f := byID["1"]; f[4] != "57.6343" || f[5] != "10.3931" {
			t.Errorf("centre of u4pru: %s, %s", f[4], f[5])
		}
	}
}

// TestGeohashCellsPerWindow counts readings per geohash cell and
// 10-second window, at parallelism 1 and 3.
func TestGeohashCellsPerWindow(t *testing.T) {
	path := writeGeoRows(t)
	for _, par := range []int{1, 3} {
		run(t, fmt.Sprintf(`
CREATE TABLE vehicles (id BIGINT, lat DOUBLE, lon DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out
SELECT GEOHASH(lat, lon, 3) AS cell, TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n
FROM vehicles WHERE ST_DISTANCE(lat, lon, 51.5074, -0.1278) < 1500000
GROUP BY GEOHASH(lat, lon, 3), TUMBLE(ts, INTERVAL '10' SECOND);`, path), par)
		want := []string{
			"gcp,2026-01-01 00:00:00.000,1", "gcp,2026-01-01 00:00:10.000,1",
			"u09,2026-01-01 00:00:00.000,1", "u09,2026-01-01 00:00:10.000,1",
			"u4p,2026-01-01 00:00:00.000,1",
		}
		if got := collected("out").Sorted(); !slices.Equal(got, want) {
			t.Fatalf("parallelism %d: got %q, want %q", par, got, want)
		}
	}
}
