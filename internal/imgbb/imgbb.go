// Package imgbb stores images with imgBB's upload API. Its URL is
// configurable, so tests point it at a local server that answers like
// imgBB; the key travels in the form body, never in a URL that could end up
// in an error message or a log.
package imgbb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"microtask/internal/upload"
)

// Client uploads to imgBB. It implements upload.Host.
type Client struct {
	url  string
	key  string
	http *http.Client
}

var _ upload.Host = (*Client)(nil)

// New returns a Client for the upload endpoint url with an API key; each
// upload may take at most timeout.
func New(url, key string, timeout time.Duration) *Client {
	return &Client{url: url, key: key, http: &http.Client{Timeout: timeout}}
}

// WithTransport makes the client's calls through rt (the metrics wrap the
// default transport to count and time them) and returns it.
func (c *Client) WithTransport(rt http.RoundTripper) *Client {
	c.http.Transport = rt
	return c
}

// Name implements upload.Host.
func (c *Client) Name() string { return "imgbb" }

// ImageBase is where imgBB serves the images it takes.
const ImageBase = "https://i.ibb.co/"

// Serves reports whether url is of an image imgBB serves (upload.Service's
// Kept).
func (c *Client) Serves(url string) bool {
	return strings.HasPrefix(url, ImageBase) && len(url) > len(ImageBase)
}

type response struct {
	Data struct {
		URL        string `json:"url"`
		DisplayURL string `json:"display_url"`
	} `json:"data"`
	Success bool `json:"success"`
	Status  int  `json:"status"`
	Error   struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	} `json:"error"`
}

// Put implements upload.Host and returns imgBB's display URL.
func (c *Client) Put(ctx context.Context, name, _ string, data []byte) (string, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("key", c.key)
	_ = w.WriteField("name", name)
	part, err := w.CreateFormFile("image", name)
	if err != nil {
		return "", err
	}
	if _, err := part.Write(data); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, &body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("imgbb: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("imgbb: read answer: %w", err)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return "", fmt.Errorf("imgbb: %s, not JSON", resp.Status)
	}
	if resp.StatusCode != http.StatusOK || !r.Success {
		return "", fmt.Errorf("imgbb: %s: %s (code %d)", resp.Status, r.Error.Message, r.Error.Code)
	}
	url := r.Data.DisplayURL
	if url == "" {
		url = r.Data.URL
	}
	if url == "" {
		return "", errors.New("imgbb: answer without a URL")
	}
	return url, nil
}
