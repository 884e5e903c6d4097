package httpapi

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"

	swaggerui "github.com/swaggest/swgui/v5/static"
)

// The API reference at /api/docs is Swagger UI on the live contract
// (/api/openapi.yaml). Its assets come from github.com/swaggest/swgui, a Go
// module that embeds Swagger UI's release files (gzipped, Apache-2.0): they
// are in the binary, the page works offline, and updating Swagger UI is a
// go get rather than a megabyte and a half of JavaScript checked into this
// repository. The page and its start-up script are ours (docs/), so that
// the page needs no inline script and its CSP can stay strict.
//
//go:embed docs/index.html docs/docs.js
var docsFiles embed.FS

// docsCSP allows what Swagger UI needs and nothing else: its scripts from
// here, the inline styles React sets, data: images for its icons, and
// requests to this origin (the contract, and "Try it out").
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// handleDocs handles GET /api/docs and the page's assets below it.
func handleDocs(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api/docs"), "/")
	h := w.Header()
	h.Set("Content-Security-Policy", docsCSP)
	switch name {
	case "":
		return serveDocsFile(w, r, "docs/index.html", "text/html; charset=utf-8")
	case "docs.js":
		return serveDocsFile(w, r, "docs/docs.js", "text/javascript; charset=utf-8")
	}
	ctype := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}[path.Ext(name)]
	if ctype == "" || strings.Contains(name, "/") {
		return errRouteNotFound
	}
	data, err := fs.ReadFile(swaggerui.FS, name)
	if err == nil { // the favicons are stored as they are
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "public, max-age=86400")
		_, _ = w.Write(data)
		return nil
	}
	data, err = fs.ReadFile(swaggerui.FS, name+".gz")
	if err != nil {
		return errRouteNotFound
	}
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "public, max-age=86400")
	h.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		_, _ = w.Write(data)
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	_, _ = io.Copy(w, zr)
	return nil
}

func serveDocsFile(w http.ResponseWriter, r *http.Request, name, ctype string) error {
	data, err := docsFiles.ReadFile(name)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "public, max-age=300")
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
	return nil
}

// acceptsGzip reports whether the client takes a gzip-encoded answer.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
