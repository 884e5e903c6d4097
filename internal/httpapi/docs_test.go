package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/getkin/kin-openapi/openapi3"

	"microtask/internal/httpapi"
)

func TestDocsPageAndAssets(t *testing.T) {
	a := newAPI(t)
	page := a.get(t, "/api/docs")
	if page.Code != http.StatusOK || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(page.Body.String(), `src="/api/docs/docs.js"`) {
		t.Fatalf("GET /api/docs = %d %q:\n%s", page.Code, page.Header().Get("Content-Type"), page.Body.String())
	}
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("CSP %q does not keep scripts to this origin", csp)
	}

	// Swagger UI's files are stored gzipped: sent as they are to clients
	// that take gzip, unpacked for the others.
	gz := a.do(t, request{method: http.MethodGet, path: "/api/docs/swagger-ui-bundle.js", header: http.Header{"Accept-Encoding": {"gzip"}}})
	if gz.Code != http.StatusOK || gz.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("bundle with gzip = %d, Content-Encoding %q", gz.Code, gz.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	unpacked, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	plain := a.do(t, request{method: http.MethodGet, path: "/api/docs/swagger-ui-bundle.js", header: http.Header{"Accept-Encoding": {"identity"}}})
	if plain.Code != http.StatusOK || plain.Header().Get("Content-Encoding") != "" || !bytes.Equal(plain.Body.Bytes(), unpacked) ||
		!strings.HasPrefix(plain.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("bundle without gzip = %d, %d bytes, Content-Encoding %q, want the %d bytes unpacked",
			plain.Code, plain.Body.Len(), plain.Header().Get("Content-Encoding"), len(unpacked))
	}
	for _, p := range []string{"/api/docs/swagger-ui.css", "/api/docs/docs.js", "/api/docs/favicon-32x32.png"} {
		if rec := a.get(t, p); rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("GET %s = %d with %d bytes", p, rec.Code, rec.Body.Len())
		}
	}
	for _, p := range []string{"/api/docs/nope.js", "/api/docs/embed.go", "/api/docs/oauth2-redirect.html", "/api/docs/..%2fopenapi.yaml"} {
		wantProblem(t, a.get(t, p), http.StatusNotFound, "route_not_found")
	}
}

// TestDocsAndContractAnswerHEAD: HEAD on the contract and the reference
// page answers as GET does, headers and length, without the body.
func TestDocsAndContractAnswerHEAD(t *testing.T) {
	a := newAPI(t)
	for _, path := range []string{"/api/openapi.yaml", "/api/docs"} {
		get := a.get(t, path)
		head := a.do(t, request{method: http.MethodHead, path: path})
		if head.Code != http.StatusOK || head.Body.Len() != 0 {
			t.Errorf("HEAD %s = %d with %d bytes, want 200 without a body", path, head.Code, head.Body.Len())
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length"} {
			if got, want := head.Header().Get(h), get.Header().Get(h); got != want || want == "" {
				t.Errorf("HEAD %s: %s = %q, GET's = %q", path, h, got, want)
			}
		}
		if got, want := get.Header().Get("Content-Length"), strconv.Itoa(get.Body.Len()); got != want {
			t.Errorf("GET %s: Content-Length = %q, body %s bytes", path, got, want)
		}
	}
}

// TestDocsPageNamesItsServer: the reference page reads the contract with
// the server that served it as its one server, not the contract's
// http://localhost:{port}/api, so that its server block shows where "Try
// it out" goes.
func TestDocsPageNamesItsServer(t *testing.T) {
	tests := []struct {
		name, url, publicURL string
		header               http.Header
		want                 string
	}{
		{"the request's host", "http://docs.example:8080/api/docs/openapi.yaml", "", nil, "http://docs.example:8080/api"},
		{"PUBLIC_URL", "http://internal.example:5000/api/docs/openapi.yaml", "https://tasks.example/", nil, "https://tasks.example/api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI(t, func(o *httpapi.Options) { o.PublicURL = tt.publicURL })
			rec := a.do(t, request{method: http.MethodGet, path: tt.url, header: tt.header})
			if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/yaml") {
				t.Fatalf("GET %s = %d %q", tt.url, rec.Code, rec.Header().Get("Content-Type"))
			}
			doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
			if err != nil {
				t.Fatalf("the page's copy of the contract: %v", err)
			}
			var got []string
			for _, s := range doc.Servers {
				got = append(got, s.URL)
			}
			if !slices.Equal(got, []string{tt.want}) {
				t.Errorf("servers = %q, want [%q]", got, tt.want)
			}
			if n, want := doc.Paths.Len(), mustContract(t).doc.Paths.Len(); n != want {
				t.Errorf("the page's copy has %d paths, the contract %d", n, want)
			}
		})
	}
	js := newAPI(t).get(t, "/api/docs/docs.js").Body.String()
	if !strings.Contains(js, `url: "/api/docs/openapi.yaml"`) {
		t.Errorf("docs.js does not load /api/docs/openapi.yaml:\n%s", js)
	}
}

// findBrowser returns a Chromium or Chrome to drive, or "" if none is
// installed. CI installs Debian's chromium (.ci/run).
func findBrowser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestDocsPageRendersInChromium loads /api/docs in headless Chromium and
// checks that Swagger UI renders every operation of the contract, that the
// page asks nothing of any other host (it works offline) and that the
// browser reports no CSP violation or script error. Without a browser it
// skips, unless MICROTASK_BROWSER_TESTS=1 (CI) makes that a failure.
func TestDocsPageRendersInChromium(t *testing.T) {
	browser := findBrowser()
	if browser == "" {
		if os.Getenv("MICROTASK_BROWSER_TESTS") == "1" {
			t.Fatal("MICROTASK_BROWSER_TESTS=1 but no chromium found on PATH")
		}
		t.Skip("no chromium on PATH (apt-get install chromium); CI runs this with MICROTASK_BROWSER_TESTS=1")
	}
	a := newAPI(t)
	srv := httptest.NewServer(a.srv)
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// A bound, not a timing assertion: a stuck browser fails the test
	// rather than hanging it.
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)

	var mu sync.Mutex
	var elsewhere, problems []string
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if u, err := url.Parse(ev.Request.URL); err == nil && u.Scheme != "data" && u.Host != base.Host {
				elsewhere = append(elsewhere, ev.Request.URL)
			}
		case *cdplog.EventEntryAdded: // CSP violations among them
			if ev.Entry.Level == cdplog.EntryLevelError {
				problems = append(problems, string(ev.Entry.Source)+": "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, arg := range ev.Args {
					args = append(args, arg.Description+string(arg.Value))
				}
				problems = append(problems, "console.error: "+strings.Join(args, " "))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/api/docs"),
		chromedp.WaitVisible(chromedp.CSS(".opblock")),
	)
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("loading /api/docs in %s: %v; the browser reported:\n%s", browser, err, strings.Join(problems, "\n"))
	}
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".info .title")))
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".opblock").length`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "Microtask API") {
		t.Errorf("title %q", title)
	}
	// The server block offers the server that served the page, and no other.
	servers, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll(".servers select option")).map(o => o.value)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{srv.URL + "/api"}; !slices.Equal(servers, want) {
		t.Errorf("the server block offers %q, want %q", servers, want)
	}
	var want int
	for _, item := range mustContract(t).doc.Paths.Map() {
		want += len(item.Operations())
	}
	for _, item := range mustContract(t).doc.Webhooks { // Swagger UI shows the webhooks too
		want += len(item.Operations())
	}
	if rendered != want {
		t.Errorf("Swagger UI rendered %d operations, the contract has %d", rendered, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(elsewhere) > 0 {
		t.Errorf("the page asked other hosts than its own (it must work offline): %v", elsewhere)
	}
	if len(problems) > 0 {
		t.Errorf("the browser reported:\n%s", strings.Join(problems, "\n"))
	}
}
