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
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
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
	var want int
	for _, item := range mustContract(t).doc.Paths.Map() {
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
