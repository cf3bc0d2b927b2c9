package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/console/assets"
)

// web holds the console's own pages, scripts and styles. The pages are
// templates: {{asset "uplot/uPlot.iife.min.js"}} is the URL of a vendored
// file, {{ui "job.js"}} the URL of one of these.
//
//go:embed web
var web embed.FS

var webFS = func() fs.FS {
	f, err := fs.Sub(web, "web")
	if err != nil {
		panic(err)
	}
	return f
}()

// webFile is one of the console's own files, with its ETag.
type webFile struct {
	body []byte
	etag string
	ct   string
}

var (
	webOnce  sync.Once
	webFiles map[string]*webFile
	pages    *template.Template
)

func loadWeb() {
	webOnce.Do(func() {
		webFiles = map[string]*webFile{}
		err := fs.WalkDir(webFS, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(name, ".html") {
				return err
			}
			body, err := fs.ReadFile(webFS, name)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(body)
			webFiles[name] = &webFile{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, ct: assets.ContentType(name)}
			return nil
		})
		if err != nil {
			panic("console: reading the embedded pages: " + err.Error())
		}
		funcs := template.FuncMap{
			"asset": assets.Path,
			"ui": func(name string) string {
				f, ok := webFiles[name]
				if !ok {
					panic("console: no file web/" + name)
				}
				return "/ui/" + name + "?v=" + strings.Trim(f.etag, `"`)[:12]
			},
		}
		pages = template.Must(template.New("").Funcs(funcs).ParseFS(webFS, "*.html"))
	})
}

// webHandler serves the console's scripts and styles (mounted at /ui/).
func webHandler() http.Handler {
	loadWeb()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := webFiles[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.ct)
		w.Header().Set("ETag", f.etag)
		w.Header().Set("Cache-Control", "no-cache")
		if r.Header.Get("If-None-Match") == f.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(f.body)
	})
}

// page serves one of the console's HTML pages.
func (s *Server) page(name string) http.HandlerFunc {
	loadWeb()
	return func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		if err := pages.ExecuteTemplate(&b, name, nil); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b.Bytes())
	}
}
