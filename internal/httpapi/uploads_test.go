package httpapi_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"microtask/internal/httpapi"
	"microtask/internal/imgbb"
	"microtask/internal/imgbb/imgbbtest"
	"microtask/internal/upload"
)

// pngImage returns a PNG of w×h pixels.
func pngImage(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{G: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegImage(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 3)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// part is one field of a multipart form: a file when filename is set.
type part struct {
	name, filename, contentType string
	data                        []byte
}

func fileField(name string, data []byte) part {
	return part{name: name, filename: "picture.png", contentType: "image/png", data: data}
}

func textField(name, value string) part { return part{name: name, data: []byte(value)} }

// form encodes parts as multipart/form-data.
func form(t testing.TB, parts ...part) (body *bytes.Buffer, contentType string) {
	t.Helper()
	body = &bytes.Buffer{}
	w := multipart.NewWriter(body)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.filename != "" {
			h.Set("Content-Disposition", `form-data; name="`+p.name+`"; filename="`+p.filename+`"`)
			h.Set("Content-Type", p.contentType)
		} else {
			h.Set("Content-Disposition", `form-data; name="`+p.name+`"`)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return body, w.FormDataContentType()
}

// postForm sends parts as a multipart form.
func (a *testAPI) postForm(t testing.TB, path, token string, parts ...part) *httptest.ResponseRecorder {
	t.Helper()
	body, ct := form(t, parts...)
	return a.do(t, request{method: http.MethodPost, path: path, body: body, token: token, header: http.Header{"Content-Type": {ct}}})
}

func (a *testAPI) upload(t testing.TB, token string, data []byte) *httptest.ResponseRecorder {
	t.Helper()
	return a.postForm(t, "/api/uploads", token, fileField("image", data))
}

type imageBody struct {
	URL    string `json:"url"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// storedFiles counts the images kept on the test's server.
func (a *testAPI) storedFiles(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir(a.uploadDir.Path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(entries)
}

func TestUploadLocalRoundTrip(t *testing.T) {
	a := newAPI(t)
	worker := a.register(t, "worker")
	for _, tt := range []struct {
		name, contentType string
		data              []byte
		w, h              int
	}{
		{"png", "image/png", pngImage(t, 5, 3), 5, 3},
		{"jpeg", "image/jpeg", jpegImage(t), 4, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := a.upload(t, worker.Token, tt.data)
			img := decode[imageBody](t, rec, http.StatusCreated)
			if img.Width != tt.w || img.Height != tt.h {
				t.Errorf("dimensions %d×%d, want %d×%d", img.Width, img.Height, tt.w, tt.h)
			}
			// Absolute on the request's host, since no PUBLIC_URL is set.
			path, ok := strings.CutPrefix(img.URL, "http://example.com")
			if !ok || !strings.HasPrefix(path, "/uploads/") || rec.Header().Get("Location") != img.URL {
				t.Fatalf("url %q, Location %q", img.URL, rec.Header().Get("Location"))
			}

			got := a.get(t, path)
			if got.Code != http.StatusOK || !bytes.Equal(got.Body.Bytes(), tt.data) {
				t.Fatalf("GET %s = %d with %d bytes, want the %d bytes uploaded", path, got.Code, got.Body.Len(), len(tt.data))
			}
			h := got.Header()
			if h.Get("Content-Type") != tt.contentType || h.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.Contains(h.Get("Cache-Control"), "max-age=31536000") {
				t.Errorf("headers %v", h)
			}
			// The contract's URL, which generated clients call, serves the same.
			if api := a.get(t, "/api"+path); api.Code != http.StatusOK || !bytes.Equal(api.Body.Bytes(), tt.data) {
				t.Errorf("GET /api%s = %d with %d bytes, want the %d bytes uploaded", path, api.Code, api.Body.Len(), len(tt.data))
			}
			// Revalidation costs no body.
			rev := a.do(t, request{method: http.MethodGet, path: path, header: http.Header{"If-Modified-Since": {h.Get("Last-Modified")}}})
			if rev.Code != http.StatusNotModified {
				t.Errorf("revalidation = %d, want 304", rev.Code)
			}
		})
	}
}

func TestUploadPublicURL(t *testing.T) {
	a := newAPI(t, func(o *httpapi.Options) { o.PublicURL = "https://api.microtask.example/" })
	buyer := a.register(t, "buyer")
	img := decode[imageBody](t, a.upload(t, buyer.Token, pngImage(t, 1, 1)), http.StatusCreated)
	if !strings.HasPrefix(img.URL, "https://api.microtask.example/uploads/") {
		t.Errorf("url %q is not on PUBLIC_URL", img.URL)
	}
}

// Behind a trusted TLS-terminating proxy the URL keeps the client's scheme;
// without trusted proxies the header is ignored.
func TestUploadURLBehindProxy(t *testing.T) {
	for _, tt := range []struct {
		proxies int
		want    string
	}{{1, "https://example.com/uploads/"}, {0, "http://example.com/uploads/"}} {
		a := newAPI(t, func(o *httpapi.Options) { o.TrustedProxies = tt.proxies })
		worker := a.register(t, "worker")
		body, ct := form(t, fileField("image", pngImage(t, 1, 1)))
		rec := a.do(t, request{method: http.MethodPost, path: "/api/uploads", body: body, token: worker.Token,
			header: http.Header{"Content-Type": {ct}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.9"}}})
		if img := decode[imageBody](t, rec, http.StatusCreated); !strings.HasPrefix(img.URL, tt.want) {
			t.Errorf("trusted proxies %d: url %q, want it under %s", tt.proxies, img.URL, tt.want)
		}
	}
}

func TestUploadRefusals(t *testing.T) {
	a := newAPI(t)
	worker := a.register(t, "worker")
	good := pngImage(t, 2, 2)
	big := append(pngImage(t, 2, 2), make([]byte, upload.MaxBytes)...)
	tests := []struct {
		name   string
		parts  []part
		token  string
		status int
		code   string
	}{
		{"signed out", []part{fileField("image", good)}, "", 401, "missing_token"},
		{"no image field", []part{textField("caption", "hi")}, worker.Token, 422, "invalid_fields"},
		{"empty form", nil, worker.Token, 422, "invalid_fields"},
		{"image as a text field", []part{textField("image", string(good))}, worker.Token, 422, "invalid_fields"},
		{"two images", []part{fileField("image", good), fileField("image", good)}, worker.Token, 422, "invalid_fields"},
		{"unknown field", []part{fileField("image", good), textField("owner", "admin")}, worker.Token, 422, "invalid_fields"},
		{"text file named .png", []part{fileField("image", []byte("just text"))}, worker.Token, 415, "unsupported_image"},
		{"svg", []part{{name: "image", filename: "x.svg", contentType: "image/svg+xml",
			data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)}}, worker.Token, 415, "unsupported_image"},
		{"truncated png", []part{fileField("image", good[:20])}, worker.Token, 415, "unsupported_image"},
		{"too many pixels", []part{fileField("image", pngImage(t, upload.MaxSide+1, 1))}, worker.Token, 422, "image_dimensions"},
		{"over 5 MiB", []part{fileField("image", big)}, worker.Token, 413, "image_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, a.postForm(t, "/api/uploads", tt.token, tt.parts...), tt.status, tt.code)
			if tt.code == "invalid_fields" && len(p.Errors) == 0 {
				t.Errorf("422 without field errors")
			}
		})
	}

	// Not a multipart form at all.
	wantProblem(t, a.call(t, http.MethodPost, "/api/uploads", worker.Token, map[string]string{"image": "x"}),
		http.StatusUnsupportedMediaType, "unsupported_media_type")
	// A broken multipart body.
	wantProblem(t, a.do(t, request{method: http.MethodPost, path: "/api/uploads", token: worker.Token,
		body:   strings.NewReader("--xyz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nno end"),
		header: http.Header{"Content-Type": {"multipart/form-data; boundary=xyz"}}}),
		http.StatusBadRequest, "malformed_multipart")
	// A body larger than the upload limit is refused before it is read.
	wantProblem(t, a.do(t, request{method: http.MethodPost, path: "/api/uploads", token: worker.Token,
		body:   strings.NewReader(strings.Repeat("x", httpapi.MaxUploadBody+1)),
		header: http.Header{"Content-Type": {"multipart/form-data; boundary=xyz"}}}),
		http.StatusRequestEntityTooLarge, "body_too_large")
	// Only image uploads get the larger limit.
	wantProblem(t, a.do(t, request{method: http.MethodPost, path: "/api/uploads", token: worker.Token,
		body: strings.NewReader(strings.Repeat("x", httpapi.MaxBodyBytes+1))}),
		http.StatusRequestEntityTooLarge, "body_too_large")

	if n := a.storedFiles(t); n != 0 {
		t.Errorf("%d files stored by refused uploads", n)
	}
}

func TestUploadFromSuspendedAccount(t *testing.T) {
	a := newAPI(t)
	adm, worker := a.admin(t), a.register(t, "worker")
	decode[userBody](t, a.call(t, http.MethodPut, "/api/admin/users/"+worker.User.ID, adm.Token, map[string]string{"status": "suspended"}), http.StatusOK)
	wantProblem(t, a.upload(t, worker.Token, pngImage(t, 1, 1)), http.StatusForbidden, "account_suspended")
}

func TestUploadGetUnknown(t *testing.T) {
	a := newAPI(t)
	for _, path := range []string{
		"/uploads/0123456789abcdef0123456789abcdef.png", // the right shape, never stored
		"/uploads/secret.txt",
		"/uploads/..%2f..%2fgo.mod",
		"/uploads/.upload-1234",
	} {
		wantProblem(t, a.get(t, path), http.StatusNotFound, "image_not_found")
	}
}

func TestUploadRateLimit(t *testing.T) {
	a := newAPI(t, func(o *httpapi.Options) { o.UploadRateLimit = 2 })
	w1, w2 := a.register(t, "worker"), a.register(t, "worker")
	img := pngImage(t, 1, 1)
	for range 2 {
		decode[imageBody](t, a.upload(t, w1.Token, img), http.StatusCreated)
	}
	rec := a.upload(t, w1.Token, img)
	wantProblem(t, rec, http.StatusTooManyRequests, "rate_limited")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The limit is per user, not per address.
	decode[imageBody](t, a.upload(t, w2.Token, img), http.StatusCreated)
}

// imgBBAPI is an API whose images go to a fake imgBB.
func imgBBAPI(t *testing.T) (*testAPI, *imgbbtest.Server) {
	t.Helper()
	fake := imgbbtest.New(t)
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, imageHost: imgbb.New(fake.URL(), imgbbtest.Key, 500*time.Millisecond)})
	return a, fake
}

func TestUploadToImgBB(t *testing.T) {
	a, fake := imgBBAPI(t)
	buyer := a.register(t, "buyer")
	data := pngImage(t, 3, 3)
	img := decode[imageBody](t, a.upload(t, buyer.Token, data), http.StatusCreated)
	if !strings.HasPrefix(img.URL, "https://i.ibb.co/") {
		t.Errorf("url %q is not imgBB's", img.URL)
	}
	if ups := fake.Uploads(); len(ups) != 1 || !bytes.Equal(ups[0].Data, data) {
		t.Errorf("imgBB received %d uploads", len(ups))
	}
	// Nothing is served locally when imgBB keeps the images.
	wantProblem(t, a.get(t, "/uploads/"+strings.Repeat("a", 32)+".png"), http.StatusNotFound, "route_not_found")
	if n := a.storedFiles(t); n != 0 {
		t.Errorf("%d files stored locally", n)
	}

	for _, mode := range []imgbbtest.Mode{imgbbtest.Down, imgbbtest.BadKey, imgbbtest.Hang} {
		fake.SetMode(mode)
		p := wantProblem(t, a.upload(t, buyer.Token, data), http.StatusServiceUnavailable, "image_host_unavailable")
		if strings.Contains(p.Detail, imgbbtest.Key) {
			t.Errorf("the problem reveals the imgBB key: %q", p.Detail)
		}
	}
	if strings.Contains(a.logs.String(), imgbbtest.Key) {
		t.Error("the logs reveal the imgBB key")
	}
}

func TestRegisterWithPhoto(t *testing.T) {
	a := newAPI(t)
	email := uniqueEmail("photo")
	photo := pngImage(t, 8, 8)
	rec := a.postForm(t, "/api/auth/register", "",
		textField("name", " Pia Photo "), textField("email", email), textField("password", "Passw0rd!"),
		textField("role", "worker"), fileField("photo", photo))
	s := decode[sessionBody](t, rec, http.StatusCreated)
	if s.User.Name != "Pia Photo" || s.User.Coins != 10 || s.User.Role != "worker" {
		t.Errorf("user %+v", s.User)
	}
	path, ok := strings.CutPrefix(s.User.PhotoURL, "http://example.com")
	if !ok || !strings.HasPrefix(path, "/uploads/") {
		t.Fatalf("photo_url %q", s.User.PhotoURL)
	}
	if got := a.get(t, path); got.Code != http.StatusOK || !bytes.Equal(got.Body.Bytes(), photo) {
		t.Errorf("GET photo = %d, %d bytes", got.Code, got.Body.Len())
	}

	// A form without a photo is an ordinary sign-up.
	s = decode[sessionBody](t, a.postForm(t, "/api/auth/register", "",
		textField("name", "No Photo"), textField("email", uniqueEmail("nophoto")), textField("password", "Passw0rd!"),
		textField("role", "buyer"), textField("photo_url", "https://img.example/me.png")), http.StatusCreated)
	if s.User.PhotoURL != "https://img.example/me.png" || s.User.Coins != 50 {
		t.Errorf("user %+v", s.User)
	}
}

func TestRegisterWithPhotoRefusals(t *testing.T) {
	a := newAPI(t)
	fields := func(email string, extra ...part) []part {
		return append([]part{textField("name", "Ray"), textField("email", email), textField("password", "Passw0rd!"),
			textField("role", "worker")}, extra...)
	}
	taken := a.register(t, "worker").User.Email
	tests := []struct {
		name   string
		parts  []part
		status int
		code   string
	}{
		{"not an image", fields(uniqueEmail("r"), fileField("photo", []byte("text"))), 415, "unsupported_image"},
		{"photo and photo_url", fields(uniqueEmail("r"), fileField("photo", pngImage(t, 1, 1)),
			textField("photo_url", "https://img.example/x.png")), 422, "invalid_fields"},
		{"weak password", []part{textField("name", "Ray"), textField("email", uniqueEmail("r")), textField("password", "short"),
			textField("role", "worker"), fileField("photo", pngImage(t, 1, 1))}, 422, "invalid_fields"},
		{"admin role", []part{textField("name", "Ray"), textField("email", uniqueEmail("r")), textField("password", "Passw0rd!"),
			textField("role", "admin")}, 422, "invalid_fields"},
		{"unknown field", fields(uniqueEmail("r"), textField("coins", "1000")), 422, "invalid_fields"},
		{"email taken", fields(taken), 409, "email_taken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, a.postForm(t, "/api/auth/register", "", tt.parts...), tt.status, tt.code)
		})
	}
	// Invalid fields are refused before the photo is stored.
	if n := a.storedFiles(t); n != 0 {
		t.Errorf("%d photos stored by refused sign-ups", n)
	}
	if n, err := a.userDB.CountByRole(context.Background(), "worker"); err != nil || n != 1 {
		t.Errorf("workers = %d (%v), want only the first", n, err)
	}
}

// TestRegisterWithPhotoStoresNothingForAFailedSignUp: a sign-up refused
// stores no photo, however often it is tried, and of simultaneous sign-ups
// with one email only the account made keeps its photo.
func TestRegisterWithPhotoStoresNothingForAFailedSignUp(t *testing.T) {
	a := newAPI(t)
	photo := pngImage(t, 2, 2)
	signUp := func(email string) *httptest.ResponseRecorder {
		return a.postForm(t, "/api/auth/register", "", textField("name", "Ray"), textField("email", email),
			textField("password", "Passw0rd!"), textField("role", "worker"), fileField("photo", photo))
	}
	taken := a.register(t, "worker").User.Email
	for range 5 {
		wantProblem(t, signUp(taken), http.StatusConflict, "email_taken")
	}
	if n := a.storedFiles(t); n != 0 {
		t.Errorf("%d photos stored by sign-ups with a taken email", n)
	}

	email := uniqueEmail("race")
	codes := make(chan int, 6)
	var wg sync.WaitGroup
	for range cap(codes) {
		wg.Go(func() { codes <- signUp(email).Code })
	}
	wg.Wait()
	close(codes)
	var created int
	for c := range codes {
		if c == http.StatusCreated {
			created++
		} else if c != http.StatusConflict {
			t.Errorf("status %d, want 201 or 409", c)
		}
	}
	if n := a.storedFiles(t); created != 1 || n != 1 {
		t.Errorf("%d accounts made, %d photos kept; want one of each", created, n)
	}
}

// TestRegisterWithPhotoRateLimit: a sign-up with a photo is an upload too,
// limited per address as uploads are per user.
func TestRegisterWithPhotoRateLimit(t *testing.T) {
	a := newAPI(t, func(o *httpapi.Options) { o.UploadRateLimit = 2 })
	signUp := func(parts ...part) *httptest.ResponseRecorder {
		return a.postForm(t, "/api/auth/register", "", append([]part{textField("name", "Ray"),
			textField("email", uniqueEmail("limit")), textField("password", "Passw0rd!"), textField("role", "worker")}, parts...)...)
	}
	for range 2 {
		decode[sessionBody](t, signUp(fileField("photo", pngImage(t, 1, 1))), http.StatusCreated)
	}
	wantProblem(t, signUp(fileField("photo", pngImage(t, 1, 1))), http.StatusTooManyRequests, "rate_limited")
	// JSON sign-ups carry no file and are not counted.
	a.register(t, "worker")
}

// TestUploadDailyLimit: past the daily limit, 429 daily_upload_limit, with
// the seconds until the first upload of the day is a day old.
func TestUploadDailyLimit(t *testing.T) {
	a := buildAPI(t, harness{bcryptCost: bcrypt.MinCost, dailyUploads: 2})
	w := a.register(t, "worker")
	img := pngImage(t, 1, 1)
	for range 2 {
		decode[imageBody](t, a.upload(t, w.Token, img), http.StatusCreated)
		a.clock.Advance(time.Hour)
	}
	rec := a.upload(t, w.Token, img)
	wantProblem(t, rec, http.StatusTooManyRequests, "daily_upload_limit")
	if got := rec.Header().Get("Retry-After"); got != "79200" {
		t.Errorf("Retry-After = %q, want 79200 (22 hours)", got)
	}
	a.clock.Advance(22 * time.Hour)
	decode[imageBody](t, a.upload(t, w.Token, img), http.StatusCreated)
}
