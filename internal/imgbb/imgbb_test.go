package imgbb_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"microtask/internal/imgbb"
	"microtask/internal/imgbb/imgbbtest"
)

var image = []byte("\x89PNG\r\n\x1a\n...the bytes of an image...")

func TestPut(t *testing.T) {
	srv := imgbbtest.New(t)
	c := imgbb.New(srv.URL(), imgbbtest.Key, 5*time.Second)

	url, err := c.Put(context.Background(), "0123.png", "image/png", image)
	if err != nil {
		t.Fatal(err)
	}
	if url != "https://i.ibb.co/img1/display-0123.png" {
		t.Errorf("URL = %q, want the display URL", url)
	}
	ups := srv.Uploads()
	if len(ups) != 1 || ups[0].Name != "0123.png" || !bytes.Equal(ups[0].Data, image) {
		t.Fatalf("imgBB received %+v", ups)
	}
	if ups[0].RawQuery != "" {
		t.Errorf("the upload URL carries a query %q; the key belongs in the body", ups[0].RawQuery)
	}
}

func TestPutFailures(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		mode    imgbbtest.Mode
		timeout time.Duration
		want    string // in the error
	}{
		{"error JSON", "wrong-key", imgbbtest.OK, 5 * time.Second, "Invalid API v1 key. (code 100)"},
		{"5xx page", imgbbtest.Key, imgbbtest.Down, 5 * time.Second, "502 Bad Gateway"},
		{"timeout", imgbbtest.Key, imgbbtest.Hang, 200 * time.Millisecond, "Client.Timeout exceeded"},
		{"not JSON", imgbbtest.Key, imgbbtest.NotJSON, 5 * time.Second, "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := imgbbtest.New(t)
			srv.SetMode(tt.mode)
			c := imgbb.New(srv.URL(), tt.key, tt.timeout)
			url, err := c.Put(context.Background(), "0123.png", "image/png", image)
			if err == nil {
				t.Fatalf("Put = %q, want an error", url)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q reveals the API key", err)
			}
		})
	}
}

func TestPutUnreachable(t *testing.T) {
	c := imgbb.New("http://127.0.0.1:1/1/upload", imgbbtest.Key, time.Second)
	if _, err := c.Put(context.Background(), "0123.png", "image/png", image); err == nil {
		t.Fatal("Put to a closed port succeeded")
	}
}
