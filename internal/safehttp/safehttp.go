// Package safehttp posts to URLs that users give the server (webhook
// endpoints) without letting them reach what only the server can: by
// default only https, and never a private, loopback, link-local or
// otherwise special address, neither when the URL is checked (after DNS
// resolution) nor when the connection is made (a dialer's Control sees
// the address actually dialled, so a name that resolves elsewhere the
// second time, DNS rebinding, is refused too). Redirects are not
// followed, proxies from the environment are not used, each post has a
// time limit, and no more than a small part of the answer is read.
package safehttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Defaults.
const (
	DefaultTimeout = 10 * time.Second
	// MaxAnswer is how much of an answer's body is read; the rest is
	// ignored.
	MaxAnswer = 1 << 10
	maxURLLen = 2048
)

// ErrRefused is the error of a URL, or a connection, to an address this
// client does not reach.
var ErrRefused = errors.New("address not allowed")

// Config configures a Client.
type Config struct {
	// AllowPrivate lets URLs be plain http and reach private, loopback and
	// link-local addresses: for tests and private deployments.
	AllowPrivate bool
	Timeout      time.Duration // each post; 0: DefaultTimeout
	// Wrap, if set, wraps the transport (metrics.Metrics.Transport).
	Wrap func(http.RoundTripper) http.RoundTripper
	// Resolver resolves names; nil: net.DefaultResolver.
	Resolver *net.Resolver
}

// Client checks and posts to user-given URLs.
type Client struct {
	allowPrivate bool
	resolver     *net.Resolver
	http         *http.Client
}

// New returns a Client.
func New(c Config) *Client {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	resolver := c.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	cl := &Client{allowPrivate: c.AllowPrivate, resolver: resolver}
	dialer := &net.Dialer{Timeout: timeout, Resolver: resolver, Control: cl.control}
	var rt http.RoundTripper = &http.Transport{
		Proxy:               nil, // a proxy would make the connection, out of the dialer's sight
		DialContext:         dialer.DialContext,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: timeout,
		MaxIdleConns:        100,
		IdleConnTimeout:     90 * time.Second,
	}
	if c.Wrap != nil {
		rt = c.Wrap(rt)
	}
	cl.http = &http.Client{
		Timeout:   timeout,
		Transport: rt,
		// A redirect could lead anywhere: the answer is the 3xx itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return cl
}

// control refuses a connection to an address Allowed refuses: the last
// check, on the address actually dialled.
func (c *Client) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrRefused, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !c.allowed(ip) {
		return fmt.Errorf("%w: %s", ErrRefused, host)
	}
	return nil
}

func (c *Client) allowed(ip netip.Addr) bool { return c.allowPrivate || Public(ip) }

// special are the ranges no webhook reaches beyond what netip's
// predicates name: shared address space (carrier-grade NAT), the
// benchmarking, documentation and reserved ranges, NAT64 and 6to4 (whose
// embedded IPv4 address could be private), and Teredo.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("100::/64"),
}

// Public reports whether ip is an ordinary public unicast address: not
// private, loopback, link-local, multicast, unspecified, nor one of the
// special ranges.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap() // ::ffff:10.0.0.1 is 10.0.0.1
	if !ip.IsValid() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsGlobalUnicast() {
		return false
	}
	for _, p := range special {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// Check says why raw is not a URL this client posts to, or nil: an
// absolute https URL (http too when private addresses are allowed), no
// credentials, a host whose every address (after resolution) is allowed.
// The message of its error is safe to show the user.
func (c *Client) Check(ctx context.Context, raw string) error {
	if len(raw) > maxURLLen {
		return fmt.Errorf("must be at most %d characters", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute URL such as https://example.com/hooks")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && c.allowPrivate:
	default:
		return errors.New("must be an https URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials; check the signature instead")
	}
	if u.Fragment != "" {
		return errors.New("must not have a fragment")
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !c.allowed(ip) {
			return errors.New("must not point at a private, loopback or link-local address")
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		if !c.allowPrivate {
			return errors.New("must not point at a private, loopback or link-local address")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := c.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("its host %s cannot be resolved", host)
	}
	for _, ip := range addrs {
		if !c.allowed(ip) {
			return errors.New("must not point at a private, loopback or link-local address")
		}
	}
	return nil
}

// Answer is what a post got back.
type Answer struct {
	Status int
	Body   []byte // at most MaxAnswer bytes of it
}

// Post posts body to raw with the headers, within the time limit, and
// reads at most MaxAnswer bytes of the answer. An error means no answer
// came (refused, unreachable, timed out).
func (c *Client) Post(ctx context.Context, raw string, headers map[string]string, body []byte) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer)) // what it says beyond is ignored
	return Answer{Status: resp.StatusCode, Body: b}, nil
}
