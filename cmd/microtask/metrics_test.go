package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"microtask/internal/checkout/checkouttest"
	"microtask/internal/googleid/googleidtest"
	"microtask/internal/imgbb/imgbbtest"
	"microtask/internal/mail/mailtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	checkouttest.Stop()
	os.Exit(code)
}

var metricsLine = regexp.MustCompile(`"msg":"internal server listening","addr":"([^"]+)","serves":"/metrics"`)

// TestMetricsScrape serves with METRICS_ADDR, makes requests that reach the
// database, the ledger, Stripe, imgBB, Google and the mail server and hold
// a notification stream open, then scrapes /metrics as Prometheus would and
// checks the series each of them leaves.
func TestMetricsScrape(t *testing.T) {
	google, imgBB, smtp := googleidtest.New(t), imgbbtest.New(t), mailtest.New(t)
	base, out, stop := startServer(t, map[string]string{
		"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0",
		"GOOGLE_CLIENT_ID": googleidtest.ClientID, "GOOGLE_CERTS_URL": google.CertsURL(),
		"IMGBB_API_KEY": imgbbtest.Key, "IMGBB_URL": imgBB.URL(),
		"STRIPE_SECRET_KEY": "sk_test_microtask", "STRIPE_WEBHOOK_SECRET": checkouttest.WebhookSecret,
		"STRIPE_API_URL": checkouttest.StripeMockURL(t), "SMTP_URL": smtp.URL(),
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	m := metricsLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no metrics listener in the log:\n%s", out.String())
	}
	scrapeURL := "http://" + m[1] + "/metrics"

	call := func(method, path, token, contentType string, body io.Reader) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, body)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	drain := func(resp *http.Response, want int) {
		t.Helper()
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, b)
		}
	}

	// A Google sign-up (Google's keys, a signup operation), an upload to
	// imgBB, a purchase started at Stripe, a 404.
	cred, _ := json.Marshal(map[string]string{"credential": google.Sign(t, googleidtest.Claims("mia@example.com", "Mia")), "role": "buyer"})
	resp := call(http.MethodPost, "/api/auth/google", "", "application/json", bytes.NewReader(cred))
	var session struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&session); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("Google sign-in = %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreateFormFile("image", "dot.png")
	_, _ = part.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
		"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"))
	_ = mw.Close()
	drain(call(http.MethodPost, "/api/uploads", session.Token, mw.FormDataContentType(), &form), http.StatusCreated)
	drain(call(http.MethodPost, "/api/payments/create", session.Token, "application/json", strings.NewReader(`{"coins":10}`)), http.StatusCreated)
	drain(call(http.MethodGet, "/api/nope", "", "", nil), http.StatusNotFound)
	// A sign-up with a password mails a verification link.
	drain(call(http.MethodPost, "/api/auth/register", "", "application/json",
		strings.NewReader(`{"name":"Ivo","email":"ivo@example.com","password":"Secret123","role":"worker"}`)), http.StatusCreated)
	smtp.Wait(t, "ivo@example.com", "")

	// A notification stream stays open while the scrape runs.
	stream := call(http.MethodGet, "/api/notifications/stream", session.Token, "", nil)
	defer stream.Body.Close()
	if line, err := bufio.NewReader(stream.Body).ReadString('\n'); err != nil || stream.StatusCode != http.StatusOK {
		t.Fatalf("stream = %d %q, %v", stream.StatusCode, line, err)
	}

	want := []struct {
		name   string
		labels []string
	}{
		{"microtask_http_request_duration_seconds_count", []string{`route="/api/auth/google"`, `method="POST"`, `status="201"`}},
		{"microtask_http_request_duration_seconds_count", []string{`route="/api/payments/create"`, `status="201"`}},
		{"microtask_http_request_duration_seconds_bucket", []string{`route="/api/uploads"`, `status="201"`, `le="+Inf"`}},
		{"microtask_http_request_duration_seconds_count", []string{`route="unmatched"`, `status="404"`}},
		{"microtask_db_write_gate_wait_seconds_count", nil},
		{"microtask_db_write_gate_held_seconds_count", nil},
		{"microtask_db_commit_duration_seconds_count", []string{`outcome="ok"`}},
		{"microtask_db_commit_documents_count", nil},
		{"microtask_operations_duration_seconds_count", []string{`kind="signup"`, `outcome="posted"`}},
		{"microtask_recovery_runs_duration_seconds_count", []string{`outcome="ok"`}},
		{"microtask_job_runs_duration_seconds_count", []string{`job="auto-approve"`, `outcome="ok"`}},
		{"microtask_job_runs_duration_seconds_count", []string{`job="expire-tasks"`}},
		{"microtask_notification_streams", nil},
		{"microtask_outbound_request_duration_seconds_count", []string{`service="google"`, `status="200"`}},
		{"microtask_outbound_request_duration_seconds_count", []string{`service="imgbb"`, `status="200"`}},
		{"microtask_outbound_request_duration_seconds_count", []string{`service="stripe"`, `status="200"`}},
		{"microtask_outbound_request_duration_seconds_count", []string{`service="smtp"`, `status="sent"`}},
		{"microtask_job_runs_duration_seconds_count", []string{`job="expire-reservations"`}},
		{"microtask_job_runs_duration_seconds_count", []string{`job="reject-overdue-revisions"`}},
		{"microtask_job_runs_duration_seconds_count", []string{`job="mail-notifications"`}},
		{"go_goroutines", nil},
	}
	// The jobs' and recovery's first rounds run as the server starts, in
	// goroutines of their own: scrape until they are in, within a bound.
	var text string
	var missing []string
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(scrapeURL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET /metrics = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		text, missing = string(b), nil
		for _, w := range want {
			if seriesValue(text, w.name, w.labels...) <= 0 {
				missing = append(missing, w.name+"{"+strings.Join(w.labels, ",")+"}")
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("series missing or zero:\n%s\n\nscraped:\n%s", strings.Join(missing, "\n"), text)
	}
	if v := seriesValue(text, "microtask_notification_streams"); v != 1 {
		t.Errorf("microtask_notification_streams = %v with one stream open", v)
	}
	// The public listener does not serve the metrics.
	drain(call(http.MethodGet, "/metrics", "", "", nil), http.StatusNotFound)
}

// seriesValue returns the value of the first sample of name whose labels
// include every one given, or -1.
func seriesValue(text, name string, labels ...string) float64 {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(rest, l)
		}
		if !all {
			continue
		}
		v, err := strconv.ParseFloat(rest[strings.LastIndex(rest, " ")+1:], 64)
		if err == nil {
			return v
		}
	}
	return -1
}
