package safehttp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"microtask/internal/safehttp"
)

func TestPublic(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"93.184.215.14", true},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", true},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"127.0.0.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"0.0.0.0", false},
		{"100.64.0.1", false},
		{"255.255.255.255", false},
		{"224.0.0.1", false},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:127.0.0.1", false},
		{"64:ff9b::a00:1", false},
		{"2002:a00:1::", false},
	}
	for _, tt := range tests {
		if got := safehttp.Public(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Public(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
}

// resolver answers every name with the addresses of a DNS server of the
// test's own (through Dial), as a public name that resolves to a private
// address would.
func resolverTo(ip string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		c1, c2 := net.Pipe()
		go serveDNS(c2, netip.MustParseAddr(ip))
		return c1, nil
	}}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	strict := safehttp.New(safehttp.Config{Resolver: resolverTo("93.184.215.14")})
	rebound := safehttp.New(safehttp.Config{Resolver: resolverTo("10.0.0.7")})
	lax := safehttp.New(safehttp.Config{AllowPrivate: true, Resolver: resolverTo("10.0.0.7")})
	tests := []struct {
		name string
		c    *safehttp.Client
		url  string
		want string // part of the error; "" for none
	}{
		{"public https", strict, "https://hooks.example.com/in", ""},
		{"plain http", strict, "http://hooks.example.com/in", "https"},
		{"relative", strict, "/hooks", "absolute"},
		{"credentials", strict, "https://u:p@hooks.example.com/", "credentials"},
		{"loopback literal", strict, "https://127.0.0.1/", "private"},
		{"metadata", strict, "https://169.254.169.254/latest/meta-data", "private"},
		{"v6 loopback", strict, "https://[::1]:8443/", "private"},
		{"localhost", strict, "https://localhost/", "private"},
		{"resolves to private", rebound, "https://internal.example.com/", "private"},
		{"allowed private", lax, "http://internal.example.com/", ""},
		{"allowed loopback", lax, "http://127.0.0.1:8080/", ""},
		{"other scheme", lax, "ftp://example.com/", "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Check(ctx, tt.url)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check(%s) = %v, want nil", tt.url, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check(%s) = %v, want an error about %q", tt.url, err, tt.want)
			}
		})
	}
}

// TestConnectionsAreCheckedToo: a URL checked when it was saved is checked
// again as it is dialled, so a name that resolves to a private address
// later (DNS rebinding), or a loopback address, is never reached.
func TestConnectionsAreCheckedToo(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	ctx := context.Background()
	strict := safehttp.New(safehttp.Config{})
	_, err := strict.Post(ctx, srv.URL, nil, []byte("{}"))
	if !errors.Is(err, safehttp.ErrRefused) || hit {
		t.Errorf("post to %s = %v (reached: %v), want refused before it is reached", srv.URL, err, hit)
	}
	// A public-looking name that resolves to the loopback at dial time.
	named := strings.Replace(srv.URL, "127.0.0.1", "hooks.example.com", 1)
	_, err = safehttp.New(safehttp.Config{Resolver: resolverTo("127.0.0.1")}).Post(ctx, named, nil, []byte("{}"))
	if !errors.Is(err, safehttp.ErrRefused) || hit {
		t.Errorf("post to %s resolving to 127.0.0.1 = %v, want refused", named, err)
	}
}

func TestPostReadsLittleAndFollowsNoRedirect(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Test") != "yes" {
			w.WriteHeader(http.StatusBadRequest)
		}
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/big", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(time.Second) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := safehttp.New(safehttp.Config{AllowPrivate: true, Timeout: 500 * time.Millisecond})
	ctx := context.Background()
	a, err := c.Post(ctx, srv.URL+"/big", map[string]string{"X-Test": "yes"}, nil)
	if err != nil || a.Status != http.StatusOK || len(a.Body) != safehttp.MaxAnswer {
		t.Errorf("big answer: %d, %d bytes, %v; want 200 and %d bytes", a.Status, len(a.Body), err, safehttp.MaxAnswer)
	}
	if a, err := c.Post(ctx, srv.URL+"/moved", nil, nil); err != nil || a.Status != http.StatusTemporaryRedirect {
		t.Errorf("redirect: %d, %v; want the 307 itself", a.Status, err)
	}
	if _, err := c.Post(ctx, srv.URL+"/slow", nil, nil); err == nil {
		t.Error("a slow answer past the time limit is no error")
	}
}
