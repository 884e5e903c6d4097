package httpapi

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"

	swaggerui "github.com/swaggest/swgui/v5/static"

	"microtask/api"
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

// handleDocs handles GET and HEAD /api/docs, and GET of the page's assets
// and its copy of the contract below it.
func (s *Server) handleDocs(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api/docs"), "/")
	h := w.Header()
	h.Set("Content-Security-Policy", docsCSP)
	switch name {
	case "":
		return serveDocsFile(w, r, "docs/index.html", "text/html; charset=utf-8")
	case "docs.js":
		return serveDocsFile(w, r, "docs/docs.js", "text/javascript; charset=utf-8")
	case "openapi.yaml":
		spec, err := withServer(api.Spec, s.absolute(r, "/api"))
		if err != nil {
			return err
		}
		serveBytes(w, r, spec, "application/yaml; charset=utf-8", "no-cache")
		return nil
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
	serveBytes(w, r, data, ctype, "public, max-age=300")
	return nil
}

// withServer returns the contract with url as its one server, in place of
// its top-level servers block (http://localhost:{port}/api, right for
// generated clients): the copy the reference page reads, so that its
// server block shows the server that served it.
func withServer(spec []byte, url string) ([]byte, error) {
	const key = "\nservers:\n"
	start := bytes.Index(spec, []byte(key))
	if start < 0 {
		return nil, errors.New("api/openapi.yaml has no top-level servers block")
	}
	start++ // keep the newline before it
	end := start + len(key) - 1
	for end < len(spec) && (spec[end] == ' ' || spec[end] == '\n') { // the block's lines are indented
		next := bytes.IndexByte(spec[end:], '\n')
		if next < 0 {
			end = len(spec)
			break
		}
		end += next + 1
	}
	quoted, err := json.Marshal(url) // a JSON string is a YAML one
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(len(spec))
	out.Write(spec[:start])
	fmt.Fprintf(&out, "servers:\n  - url: %s\n    description: The server that served this page.\n", quoted)
	out.Write(spec[end:])
	return out.Bytes(), nil
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
