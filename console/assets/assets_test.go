package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

type manifestEntry struct {
	Path, Package, Version, Integrity, Source, SHA256, License string
	Bytes                                                      int
	LicenseFile                                                string `json:"license_file"`
	DataLicense                                                string `json:"data_license"`
	DataLicenseFile                                            string `json:"data_license_file"`
}

func readManifest(t *testing.T) []manifestEntry {
	t.Helper()
	var m struct{ Files []manifestEntry }
	dec := json.NewDecoder(bytes.NewReader(Manifest()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("MANIFEST.json: %v", err)
	}
	if len(m.Files) == 0 {
		t.Fatal("MANIFEST.json lists no files")
	}
	return m.Files
}

func TestManifestMatchesEmbeddedFiles(t *testing.T) {
	listed := map[string]bool{}
	for _, e := range readManifest(t) {
		listed[e.Path] = true
		body, err := fs.ReadFile(FS, e.Path)
		if err != nil {
			t.Errorf("%s: in MANIFEST.json but not embedded: %v", e.Path, err)
			continue
		}
		sum := sha256.Sum256(body)
		if got := hex.EncodeToString(sum[:]); got != e.SHA256 || len(body) != e.Bytes {
			t.Errorf("%s: sha256 %s (%d bytes), MANIFEST.json records %s (%d bytes): refresh with refresh.sh, do not edit vendored files",
				e.Path, got, len(body), e.SHA256, e.Bytes)
		}
		if e.Package == "" || e.Version == "" || e.Source == "" || !strings.HasPrefix(e.Integrity, "sha512-") {
			t.Errorf("%s: incomplete provenance %+v", e.Path, e)
		}
	}
	// Every embedded file is listed, except notes the manifest points at.
	_ = fs.WalkDir(FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !listed[name] && !strings.HasSuffix(name, "NATURAL_EARTH.txt") {
			t.Errorf("%s: embedded but not in MANIFEST.json", name)
		}
		return err
	})
}

func TestVendoredLicencesPresent(t *testing.T) {
	want := map[string]string{"uplot": "MIT", "leaflet": "BSD-2-Clause", "topojson-client": "ISC", "world-atlas": "ISC"}
	seen := map[string]bool{}
	for _, e := range readManifest(t) {
		seen[e.Package] = true
		if w, ok := want[e.Package]; !ok || e.License != w {
			t.Errorf("%s: package %q licence %q, want %q", e.Path, e.Package, e.License, w)
		}
		for _, lf := range []string{e.LicenseFile, e.DataLicenseFile} {
			if lf == "" {
				continue
			}
			b, err := fs.ReadFile(FS, lf)
			if err != nil || len(b) < 100 {
				t.Errorf("%s: licence file %s missing or empty (%v)", e.Path, lf, err)
			}
		}
		if strings.HasSuffix(e.Path, ".json") && e.DataLicenseFile == "" {
			t.Errorf("%s: Natural Earth data without its data licence note", e.Path)
		}
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("package %s not vendored", p)
		}
	}
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "http://console"+"/", nil)
	r.URL.Path = target
	r.URL.RawPath = ""
	r.RequestURI = target
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerContentTypesAndCaching(t *testing.T) {
	h := Handler()
	cases := map[string]string{
		"uplot/uPlot.iife.min.js":                "text/javascript; charset=utf-8",
		"uplot/uPlot.min.css":                    "text/css; charset=utf-8",
		"leaflet/leaflet.js":                     "text/javascript; charset=utf-8",
		"leaflet/leaflet.css":                    "text/css; charset=utf-8",
		"leaflet/images/marker-icon.png":         "image/png",
		"topojson-client/topojson-client.min.js": "text/javascript; charset=utf-8",
		"world-atlas/countries-110m.json":        "application/json",
		"world-atlas/land-50m.json":              "application/json",
		"uplot/LICENSE":                          "text/plain; charset=utf-8",
	}
	for name, ct := range cases {
		want, _ := fs.ReadFile(FS, name)
		w := get(t, h, "GET", Path(name), nil)
		if w.Code != 200 || w.Header().Get("Content-Type") != ct || !bytes.Equal(w.Body.Bytes(), want) {
			t.Errorf("%s: %d %q (%d bytes), want 200 %q (%d bytes)", name, w.Code, w.Header().Get("Content-Type"), w.Body.Len(), ct, len(want))
		}
		sum := sha256.Sum256(want)
		if got := w.Header().Get("ETag"); got != `"`+hex.EncodeToString(sum[:])+`"` {
			t.Errorf("%s: ETag %s, want the sha256", name, got)
		}
		if w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", name, w.Header())
		}
		head := get(t, h, "HEAD", Path(name), nil)
		if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Length") != w.Header().Get("Content-Length") {
			t.Errorf("%s: HEAD %d, %d body bytes, Content-Length %q", name, head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
		}
	}
	if w := get(t, h, "POST", Path("leaflet/leaflet.js"), nil); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", w.Code, w.Header())
	}
}

func TestHandlerIfNoneMatchIsNotModified(t *testing.T) {
	h := Handler()
	p := Path("uplot/uPlot.iife.min.js")
	for _, enc := range []string{"", "gzip"} {
		first := get(t, h, "GET", p, map[string]string{"Accept-Encoding": enc})
		etag := first.Header().Get("ETag")
		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
			w := get(t, h, "GET", p, map[string]string{"Accept-Encoding": enc, "If-None-Match": inm})
			if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
				t.Errorf("enc %q If-None-Match %s: %d, %d bytes", enc, inm, w.Code, w.Body.Len())
			}
		}
		if w := get(t, h, "GET", p, map[string]string{"Accept-Encoding": enc, "If-None-Match": `"stale"`}); w.Code != 200 {
			t.Errorf("enc %q stale ETag: %d, want 200", enc, w.Code)
		}
	}
}

func TestHandlerGzipRoundTripEqualsFile(t *testing.T) {
	h := Handler()
	for _, name := range []string{"leaflet/leaflet.js", "uplot/uPlot.min.css", "world-atlas/land-50m.json"} {
		want, _ := fs.ReadFile(FS, name)
		for i := 0; i < 2; i++ { // the second answer comes from the cache
			w := get(t, h, "GET", Path(name), map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
			if w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Vary") != "Accept-Encoding" {
				t.Fatalf("%s: not gzipped: %v", name, w.Header())
			}
			if w.Body.Len() >= len(want) {
				t.Errorf("%s: gzip %d bytes, file %d", name, w.Body.Len(), len(want))
			}
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: gunzipped %d bytes (%v), file %d", name, len(got), err, len(want))
			}
		}
	}
	// Refused gzip, and images, come as they are.
	for _, c := range []struct{ name, ae string }{
		{"leaflet/leaflet.js", "gzip;q=0"}, {"leaflet/leaflet.js", "identity"}, {"leaflet/leaflet.js", "*;q=1, gzip;q=0"},
		{"leaflet/images/layers.png", "gzip"},
	} {
		want, _ := fs.ReadFile(FS, c.name)
		w := get(t, h, "GET", Path(c.name), map[string]string{"Accept-Encoding": c.ae})
		if w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), want) {
			t.Errorf("%s with Accept-Encoding %q: encoded %q", c.name, c.ae, w.Header().Get("Content-Encoding"))
		}
	}
}

func TestHandlerUnknownPathsAndDirectoriesAre404(t *testing.T) {
	h := Handler()
	v := Prefix + Version() + "/"
	for _, p := range []string{
		v + "nope.js", v + "leaflet", v + "leaflet/", v + "leaflet/images", v, Prefix, Prefix + Version(),
		Prefix + "000000000000/leaflet/leaflet.js", // another version
		"/leaflet/leaflet.js",
		Prefix + "leaflet/leaflet.js",
	} {
		if w := get(t, h, "GET", p, nil); w.Code != 404 {
			t.Errorf("%s: %d, want 404", p, w.Code)
		}
	}
}

func TestHandlerRefusesPathTraversal(t *testing.T) {
	// Through a real server, so the raw paths go through Go's URL parsing.
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	v := Prefix + Version() + "/"
	for _, raw := range []string{
		"/assets/../go.mod", v + "../go.mod", v + "../../../go.mod", v + "..%2f..%2fgo.mod",
		v + "%2e%2e/%2e%2e/go.mod", v + "%2E%2E%2F%2E%2E%2Fassets.go", v + "leaflet/../../assets.go",
		v + "leaflet/..%5c..%5cassets.go", v + "./leaflet/leaflet.js", v + "leaflet//leaflet.js",
		v + "%2fetc%2fpasswd", v + "..", v + "leaflet/%00leaflet.js", "/assets/" + Version() + "/../files/uplot/LICENSE",
	} {
		req, err := http.NewRequest("GET", srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = raw // sent as written, not cleaned by the client
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 && resp.StatusCode != 400 {
			t.Errorf("%s: %d (%d bytes), want 404", raw, resp.StatusCode, len(body))
		}
		if bytes.Contains(body, []byte("module ")) || bytes.Contains(body, []byte("package assets")) {
			t.Errorf("%s: served a file from outside the assets", raw)
		}
	}
}

func TestPathNamesFilesUnderVersionedPrefix(t *testing.T) {
	p := Path("leaflet/leaflet.css")
	if p != "/assets/"+Version()+"/leaflet/leaflet.css" || len(Version()) != 12 {
		t.Fatalf("Path = %s", p)
	}
	// leaflet.css refers to images/… relatively; they resolve under the same prefix.
	if lookup(strings.TrimSuffix(p, "leaflet.css")+"images/layers.png") == nil {
		t.Error("leaflet's images do not resolve next to leaflet.css")
	}
	defer func() {
		if recover() == nil {
			t.Error("Path of an unknown file did not panic")
		}
	}()
	Path("leaflet/leaflet.min.js")
}

// needNode returns the path of node, or skips the test loudly when it is not
// installed — unless SLUICE_REQUIRE_TOOLS=1 (as in CI), which fails it.
func needNode(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("node")
	if err != nil {
		const msg = "node not installed: apt-get install -y nodejs"
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (SLUICE_REQUIRE_TOOLS=1 requires it)", msg)
		}
		t.Skip("SKIPPING THE NODE TEST OF THE VENDORED BROWSER LIBRARIES: " + msg)
	}
	return path
}

// TestNodeTurnsServedTopoJSONIntoGeoJSON loads topojson-client and the
// Natural Earth outlines from a real loopback server, the way a browser
// would, and converts them to GeoJSON; uPlot and Leaflet, as served, compile.
func TestNodeTurnsServedTopoJSONIntoGeoJSON(t *testing.T) {
	node := needNode(t)
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	script := filepath.Join(t.TempDir(), "geo.js")
	const js = `
const vm = require("vm");
const [base, client, countries, land, scripts] = process.argv.slice(2);
(async () => {
  const text = async (p) => {
    const r = await fetch(base + p, { headers: { "Accept-Encoding": "gzip" } });
    if (!r.ok) throw new Error(p + ": " + r.status);
    return [await r.text(), r.headers.get("content-encoding")];
  };
  for (const p of scripts.split(",")) new vm.Script((await text(p))[0], { filename: p }); // valid JavaScript as served
  const [src] = await text(client);
  const ctx = {};
  vm.createContext(ctx);
  vm.runInContext(src, ctx);
  const topojson = ctx.topojson;
  const [c, enc] = await text(countries);
  const ct = JSON.parse(c);
  const fc = topojson.feature(ct, ct.objects.countries);
  const [l] = await text(land);
  const lt = JSON.parse(l);
  const lf = topojson.feature(lt, lt.objects.land);
  const named = fc.features.filter((f) => f.properties && f.properties.name).length;
  console.log(JSON.stringify({ type: fc.type, features: fc.features.length, named, landType: lf.type,
    landPolygons: lf.features.reduce((n, f) => n + (f.geometry.type === "MultiPolygon" ? f.geometry.coordinates.length : 1), 0), enc }));
})().catch((e) => { console.error(e); process.exit(1); });
`
	if err := os.WriteFile(script, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, script, srv.URL,
		Path("topojson-client/topojson-client.min.js"),
		Path("world-atlas/countries-110m.json"),
		Path("world-atlas/land-50m.json"),
		Path("uplot/uPlot.iife.min.js")+","+Path("leaflet/leaflet.js")).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var res struct {
		Type            string
		Features, Named int
		LandType        string
		LandPolygons    int
		Enc             string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node printed %s: %v", out, err)
	}
	if res.Type != "FeatureCollection" || res.Features <= 100 || res.Named <= 100 || res.LandPolygons < 100 || res.Enc != "gzip" {
		t.Fatalf("GeoJSON from the served files: %+v", res)
	}
	t.Logf("countries-110m: %d features (%d named); land-50m: %s with %d polygons", res.Features, res.Named, res.LandType, res.LandPolygons)
}

// TestStylesheetURLsResolveToVendoredFiles: every url(…) in a vendored
// stylesheet names a vendored file next to it, and so does every image
// Leaflet's default marker asks for, so a map shows no broken images.
func TestStylesheetURLsResolveToVendoredFiles(t *testing.T) {
	re := regexp.MustCompile(`url\(\s*['"]?([^'")]+)['"]?\s*\)`)
	for _, css := range []string{"leaflet/leaflet.css", "uplot/uPlot.min.css"} {
		b, err := fs.ReadFile(FS, css)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			ref := m[1]
			if strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "data:") {
				continue
			}
			if _, err := fs.Stat(FS, path.Join(path.Dir(css), ref)); err != nil {
				t.Errorf("%s refers to %s, which is not vendored", css, ref)
			}
		}
	}
	for _, img := range []string{"marker-icon.png", "marker-icon-2x.png", "marker-shadow.png"} {
		if _, err := fs.Stat(FS, "leaflet/images/"+img); err != nil {
			t.Errorf("leaflet's default marker needs images/%s", img)
		}
	}
}

func TestHandlerConcurrentGzipServesOneCopy(t *testing.T) {
	h := Handler()
	name := "world-atlas/countries-110m.json"
	want, _ := fs.ReadFile(FS, name)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := get(t, h, "GET", Path(name), map[string]string{"Accept-Encoding": "gzip"})
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				errs <- err.Error()
				return
			}
			if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, want) {
				errs <- "gunzipped body differs from the file"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
