// Package imgbbtest is a local server that answers like imgBB's upload API
// (POST /1/upload, multipart form with key, name and image), for tests.
package imgbbtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Key is the API key the server accepts.
const Key = "imgbb-test-key"

// Mode is how the server answers.
type Mode int

const (
	OK      Mode = iota // stores the image and answers with its URLs
	BadKey              // imgBB's JSON error for an invalid key, status 400
	Down                // 502 with an HTML page, as a proxy in front of it would
	Hang                // answers only after the client gave up
	NotJSON             // 200 with a body that is not JSON
)

// Upload is one image the server received.
type Upload struct {
	Name     string
	Data     []byte
	RawQuery string // the upload URL's query: the key must not be there
}

// Server is a fake imgBB.
type Server struct {
	mu      sync.Mutex
	mode    Mode
	uploads []Upload
	srv     *httptest.Server
}

// New starts a server for the test; it stops when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the upload endpoint: IMGBB_URL.
func (s *Server) URL() string { return s.srv.URL + "/1/upload" }

// SetMode changes how the server answers.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// Uploads returns the images stored so far.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Upload(nil), s.uploads...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mode := s.mode
	s.mu.Unlock()
	switch mode {
	case Down:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		return
	case Hang:
		// Read the body first: only then does the server notice the client
		// hanging up and cancel the request's context.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	case NotJSON:
		_, _ = io.WriteString(w, "ok")
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/1/upload" {
		fail(w, http.StatusNotFound, 0, "Not found")
		return
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		fail(w, http.StatusBadRequest, 310, "Invalid multipart form")
		return
	}
	if mode == BadKey || r.FormValue("key") != Key {
		fail(w, http.StatusBadRequest, 100, "Invalid API v1 key.")
		return
	}
	f, _, err := r.FormFile("image")
	if err != nil {
		fail(w, http.StatusBadRequest, 310, "Empty upload source.")
		return
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		fail(w, http.StatusBadRequest, 310, "Invalid upload source.")
		return
	}
	name := r.FormValue("name")
	s.mu.Lock()
	s.uploads = append(s.uploads, Upload{Name: name, Data: data, RawQuery: r.URL.RawQuery})
	id := fmt.Sprintf("img%d", len(s.uploads))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"data": map[string]any{
			"id": id, "title": name, "url_viewer": "https://ibb.co/" + id,
			"url":         "https://i.ibb.co/" + id + "/" + name,
			"display_url": "https://i.ibb.co/" + id + "/display-" + name,
			"size":        len(data), "time": time.Now().Unix(), "expiration": 0,
		},
		"success": true, "status": 200,
	})
}

// fail answers with imgBB's error JSON.
func fail(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status_code": status, "status_txt": http.StatusText(status),
		"error": map[string]any{"message": message, "code": code},
	})
}
