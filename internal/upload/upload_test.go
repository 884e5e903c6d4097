package upload_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"
	"testing"

	"microtask/internal/storage"
	"microtask/internal/storage/storagetest"
	"microtask/internal/upload"
)

// Images returns small valid images of each accepted type, by content type.
func images(t *testing.T) map[string][]byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	out := map[string][]byte{}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	out["image/png"] = bytes.Clone(b.Bytes())
	b.Reset()
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	out["image/jpeg"] = bytes.Clone(b.Bytes())
	b.Reset()
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	out["image/gif"] = bytes.Clone(b.Bytes())
	// No WebP encoder in Go: a 1×1 lossless WebP, byte for byte.
	webp, err := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	if err != nil {
		t.Fatal(err)
	}
	out["image/webp"] = webp
	return out
}

func TestMain(m *testing.M) { storagetest.Main(m) }

// newService returns a Service storing images with host and recording them
// on a database of the test's own, with no referrers and no daily limit.
func newService(t testing.TB, host upload.Host) *upload.Service {
	t.Helper()
	return upload.NewService(host, storage.NewUploadStore(storagetest.NewDB(t)), nil, 0, slog.New(slog.DiscardHandler), nil)
}

// hostFunc is a Host made of a function.
type hostFunc func(name, contentType string, data []byte) (string, error)

func (hostFunc) Name() string { return "test" }
func (f hostFunc) Put(_ context.Context, name, ct string, data []byte) (string, error) {
	return f(name, ct, data)
}

func TestSaveAcceptsImages(t *testing.T) {
	dir := upload.Dir{Path: t.TempDir()}
	s := newService(t, dir)
	for ct, data := range images(t) {
		t.Run(ct, func(t *testing.T) {
			img, err := s.Save(context.Background(), "u1", data)
			if err != nil {
				t.Fatal(err)
			}
			if img.ContentType != ct || img.Width == 0 || img.Height == 0 {
				t.Errorf("Save = %+v, want type %s and dimensions", img, ct)
			}
			if !strings.HasPrefix(img.URL, upload.PathPrefix) {
				t.Fatalf("URL %q is not under %s", img.URL, upload.PathPrefix)
			}
			f, gotType, err := dir.Open(path.Base(img.URL))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := io.ReadAll(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) || gotType != ct {
				t.Errorf("stored %d bytes of %s, want the %d bytes sent as %s", len(got), gotType, len(data), ct)
			}
		})
	}
}

func TestSaveRefuses(t *testing.T) {
	imgs := images(t)
	wide := func() []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, upload.MaxSide+1, 1))); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}()
	tooLarge := append(bytes.Clone(imgs["image/png"]), make([]byte, upload.MaxBytes)...)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"text", []byte("hello, this is not an image"), upload.ErrUnsupported},
		{"empty", nil, upload.ErrUnsupported},
		{"HTML", []byte("<html><script>alert(1)</script></html>"), upload.ErrUnsupported},
		{"SVG", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), upload.ErrUnsupported},
		{"PDF", []byte("%PDF-1.7\n"), upload.ErrUnsupported},
		{"PNG signature, broken image", imgs["image/png"][:12], upload.ErrUnsupported},
		{"too wide", wide, upload.ErrDimensions},
		{"too large", tooLarge, upload.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(t, hostFunc(func(string, string, []byte) (string, error) {
				t.Fatal("a refused image reached the host")
				return "", nil
			}))
			if _, err := s.Save(context.Background(), "u1", tt.data); !errors.Is(err, tt.want) {
				t.Fatalf("Save = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSaveHostDown(t *testing.T) {
	s := newService(t, hostFunc(func(string, string, []byte) (string, error) {
		return "", errors.New("connection refused")
	}))
	if _, err := s.Save(context.Background(), "u1", images(t)["image/png"]); !errors.Is(err, upload.ErrUnavailable) {
		t.Fatalf("Save = %v, want ErrUnavailable", err)
	}
}

func TestSaveNames(t *testing.T) {
	var names []string
	s := newService(t, hostFunc(func(name, _ string, _ []byte) (string, error) {
		names = append(names, name)
		return "https://img.example/" + name, nil
	}))
	data := images(t)["image/jpeg"]
	for range 2 {
		if _, err := s.Save(context.Background(), "u1", data); err != nil {
			t.Fatal(err)
		}
	}
	if len(names) != 2 || names[0] == names[1] || !strings.HasSuffix(names[0], ".jpg") {
		t.Errorf("names %q: want two different random .jpg names", names)
	}
}

func TestDirOpenRefusesOtherNames(t *testing.T) {
	dir := upload.Dir{Path: t.TempDir()}
	if err := os.WriteFile(dir.Path+"/secret.txt", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"secret.txt", "../secret.txt", "..", "", ".upload-123",
		"0123456789abcdef0123456789abcdef.svg", "0123456789ABCDEF0123456789ABCDEF.png",
		"0123456789abcdef0123456789abcdef.png", // the right shape, but never stored
	} {
		if f, _, err := dir.Open(name); !errors.Is(err, os.ErrNotExist) {
			if f != nil {
				f.Close()
			}
			t.Errorf("Open(%q) = %v, want ErrNotExist", name, err)
		}
	}
}

// BenchmarkSave checks and stores a 1600×1200 JPEG (about the size of a
// phone screenshot) in a local directory.
func BenchmarkSave(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 1600, 1200))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		b.Fatal(err)
	}
	s := newService(b, upload.Dir{Path: b.TempDir()})
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Save(context.Background(), "u1", buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDiscard: an image discarded is gone from a directory, whose Delete
// takes only the names Save gives; a host that cannot delete (imgBB) is
// left alone.
func TestDiscard(t *testing.T) {
	dir := upload.Dir{Path: t.TempDir()}
	s := newService(t, dir)
	img, err := s.Save(context.Background(), "u1", images(t)["image/png"])
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second time finds nothing to delete, which is no error
		if err := s.Discard(context.Background(), img); err != nil {
			t.Fatalf("Discard() = %v", err)
		}
	}
	if _, _, err := dir.Open(img.Name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open() after Discard = %v, want os.ErrNotExist", err)
	}
	if err := dir.Delete(context.Background(), "../secret.txt"); err == nil {
		t.Error("Delete(../secret.txt) = nil, want an error")
	}

	kept := newService(t, hostFunc(func(name, _ string, _ []byte) (string, error) {
		return "https://img.example/" + name, nil
	}))
	img, err = kept.Save(context.Background(), "u1", images(t)["image/png"])
	if err != nil {
		t.Fatal(err)
	}
	if err := kept.Discard(context.Background(), img); err != nil {
		t.Errorf("Discard() on a host that cannot delete = %v, want nil", err)
	}
}
