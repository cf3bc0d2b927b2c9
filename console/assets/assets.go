// Package assets holds the browser libraries the web console uses, vendored
// from npm and embedded in the binary so the console works offline with no
// build step: uPlot (time-series charts), Leaflet (maps), topojson-client and
// Natural Earth's country and land outlines from world-atlas (an offline
// basemap with no tile server).
//
// MANIFEST.json records, per file, the npm package, version and tarball
// integrity, the file's sha256 and its licence; refresh.sh re-downloads the
// pinned versions (or the latest with --latest) and rewrites it.
//
// Handler serves the files under a path that names their content,
// /assets/<hash>/<name>, where <hash> is a digest of every file: the
// responses are cached for a year as immutable, and a new set of files gets
// new URLs. Relative references between files (leaflet.css to its images)
// resolve inside the same prefix. Path gives the URL of a file for HTML.
package assets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed files
var embedded embed.FS

// manifestJSON is MANIFEST.json, kept for the tests and for tools.
//
//go:embed MANIFEST.json
var manifestJSON []byte

// FS holds the vendored files at stable paths such as
// "uplot/uPlot.iife.min.js", "leaflet/leaflet.css" and
// "world-atlas/countries-110m.json", with each package's licence next to its
// files ("uplot/LICENSE").
var FS fs.FS = mustSub(embedded, "files")

// Prefix is where Handler expects to be mounted, without stripping it:
// mux.Handle(assets.Prefix, assets.Handler()).
const Prefix = "/assets/"

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // "files" is a constant directory of the embed
	}
	return s
}

// Manifest returns the contents of MANIFEST.json.
func Manifest() []byte { return bytes.Clone(manifestJSON) }

type file struct {
	body        []byte
	contentType string
	etag        string // strong: the sha256 of body, quoted
	compress    bool

	gzOnce sync.Once
	gz     []byte // nil when gzip does not make it smaller
	gzEtag string
}

type index struct {
	version string // hex digest over all files, short
	files   map[string]*file
}

var (
	idxOnce sync.Once
	idx     *index
)

func load() *index {
	idxOnce.Do(func() {
		x := &index{files: map[string]*file{}}
		var names []string
		err := fs.WalkDir(FS, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			body, err := fs.ReadFile(FS, name)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(body)
			ct, compress := contentType(name)
			x.files[name] = &file{body: body, contentType: ct, compress: compress,
				etag: `"` + hex.EncodeToString(sum[:]) + `"`}
			names = append(names, name)
			return nil
		})
		if err != nil {
			panic("console/assets: reading the embedded files: " + err.Error())
		}
		sort.Strings(names)
		all := sha256.New()
		for _, n := range names {
			all.Write([]byte(n))
			all.Write([]byte{0})
			all.Write([]byte(x.files[n].etag))
			all.Write([]byte{0})
		}
		x.version = hex.EncodeToString(all.Sum(nil))[:12]
		idx = x
	})
	return idx
}

// ContentType is the Content-Type of a file of the console's by its name's
// extension, from the table the vendored files are served with.
func ContentType(name string) string {
	ct, _ := contentType(name)
	return ct
}

// contentType returns the Content-Type for a vendored file, from a fixed
// table rather than the system's MIME database, and whether gzip helps it.
func contentType(name string) (string, bool) {
	switch strings.ToLower(path.Ext(name)) {
	case ".js":
		return "text/javascript; charset=utf-8", true
	case ".css":
		return "text/css; charset=utf-8", true
	case ".json":
		return "application/json", true
	case ".png":
		return "image/png", false
	case ".svg":
		return "image/svg+xml", true
	case ".txt", "":
		return "text/plain; charset=utf-8", true
	}
	return "application/octet-stream", false
}

// Version is the content digest in every URL Path returns.
func Version() string { return load().version }

// Path returns the URL path of the vendored file name (as in FS), for use in
// HTML: /assets/<version>/<name>. It panics when there is no such file, so a
// misspelt name fails when the page is built rather than as a 404 in a
// browser.
func Path(name string) string {
	x := load()
	if _, ok := x.files[name]; !ok {
		panic("console/assets: no vendored file " + strconv.Quote(name))
	}
	return Prefix + x.version + "/" + name
}

// Handler serves the vendored files under Prefix, at the paths Path returns:
// GET and HEAD only, a Content-Type from the file's extension, a strong ETag
// (the file's sha256) with If-None-Match answered by 304, gzip when the
// client accepts it (compressed once, on the first request, and kept),
// Cache-Control "public, max-age=31536000, immutable" and
// X-Content-Type-Options: nosniff. Anything else under Prefix — another
// version, a directory, an unknown or unclean path — is 404; there are no
// directory listings.
func Handler() http.Handler {
	load()
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f := lookup(r.URL.Path)
	if f == nil {
		http.NotFound(w, r)
		return
	}
	body, etag := f.body, f.etag
	if f.compress && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if gz, gzEtag := f.gzipped(); gz != nil {
			body, etag = gz, gzEtag
			h.Set("Content-Encoding", "gzip")
		}
	}
	if f.compress {
		h.Set("Vary", "Accept-Encoding")
	}
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// lookup maps a request path to a file: Prefix, the current version, then a
// clean relative name present in FS.
func lookup(p string) *file {
	x := load()
	rest, ok := strings.CutPrefix(p, Prefix)
	if !ok {
		return nil
	}
	version, name, ok := strings.Cut(rest, "/")
	if !ok || version != x.version || !fs.ValidPath(name) || strings.Contains(name, `\`) {
		return nil
	}
	return x.files[name]
}

func (f *file) gzipped() ([]byte, string) {
	f.gzOnce.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(f.body)
		if zw.Close() != nil || b.Len() >= len(f.body) {
			return
		}
		f.gz = b.Bytes()
		f.gzEtag = strings.TrimSuffix(f.etag, `"`) + `.gz"`
	})
	return f.gz, f.gzEtag
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip (named,
// or by "*", with a non-zero q).
func acceptsGzip(ae string) bool {
	star := false
	for _, part := range strings.Split(ae, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		ok := true
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					ok = false
				}
			}
		}
		if coding == "*" {
			star = ok
			continue
		}
		return ok
	}
	return star
}

// etagMatches applies If-None-Match's weak comparison to a list of tags.
func etagMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
