package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to a control API: truncheck's own, or anything that speaks the same
// shapes. Its methods return an [*APIError] for a 4xx or 5xx answer.
type Client struct {
	base string // "http://127.0.0.1:8474", or "http://unix" over a Unix socket
	hc   *http.Client
}

// NewClient returns a client of the API at address: http://HOST:PORT (or HOST:PORT) or
// unix:/PATH. Every call is bounded by its context and by 30 seconds.
func NewClient(address string) (*Client, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	c := &Client{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	if path, ok := strings.CutPrefix(address, "unix:"); ok {
		path = strings.TrimPrefix(path, "//")
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("control client: %q: the socket path must be absolute", address)
		}
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		c.base = "http://localhost"
		return c, nil
	}
	if !strings.Contains(address, "://") {
		address = "http://" + address
	}
	u, err := url.Parse(address)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("control client: %q: accepted: http://HOST:PORT or unix:/PATH", address)
	}
	c.base = "http://" + u.Host
	return c, nil
}

// Close closes the client's idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Do sends one request with a raw body (nil for none) and returns the status and the
// body of the answer, whatever the status: for tests that post exact JSON.
func (c *Client) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, b, err
}

// call sends in (JSON, nil for none) and decodes a 2xx answer into out (nil: ignored).
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	status, b, err := c.Do(ctx, method, path, body)
	if err != nil {
		return fmt.Errorf("control client: %s %s: %w", method, path, err)
	}
	if status < 200 || status > 299 {
		ae := &APIError{Status: status}
		if json.Unmarshal(b, ae) != nil || ae.Message == "" {
			ae.Message = strings.TrimSpace(string(b))
		}
		ae.Status = status
		return ae
	}
	if out == nil || status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("control client: %s %s: %w", method, path, err)
	}
	return nil
}

// IsStatus reports whether err is an API answer with this status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// Version returns the server's version.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v Version
	err := c.call(ctx, "GET", "/version", nil, &v)
	return v.Version, err
}

// Proxies returns every proxy by name.
func (c *Client) Proxies(ctx context.Context) (map[string]Proxy, error) {
	var out map[string]Proxy
	err := c.call(ctx, "GET", "/proxies", nil, &out)
	return out, err
}

// NewProxy is a proxy to create: Listen "" is 127.0.0.1 on a free port; Faults in the
// native shape; Seed 0 is the server's.
type NewProxy struct {
	Name     string  `json:"name"`
	Listen   string  `json:"listen,omitempty"`
	Upstream string  `json:"upstream"`
	Faults   *Faults `json:"faults,omitempty"`
	Seed     int64   `json:"seed,omitempty"`
}

// CreateProxy creates a proxy and starts it; the answer says where it listens.
func (c *Client) CreateProxy(ctx context.Context, p NewProxy) (Proxy, error) {
	var out Proxy
	err := c.call(ctx, "POST", "/proxies", p, &out)
	return out, err
}

// Proxy returns one proxy.
func (c *Client) Proxy(ctx context.Context, name string) (Proxy, error) {
	var out Proxy
	err := c.call(ctx, "GET", "/proxies/"+url.PathEscape(name), nil, &out)
	return out, err
}

// SetEnabled takes a proxy down (it stops listening and closes its connections) or
// brings it back on the same address.
func (c *Client) SetEnabled(ctx context.Context, name string, enabled bool) (Proxy, error) {
	var out Proxy
	err := c.call(ctx, "POST", "/proxies/"+url.PathEscape(name), map[string]bool{"enabled": enabled}, &out)
	return out, err
}

// DeleteProxy stops a proxy and removes it.
func (c *Client) DeleteProxy(ctx context.Context, name string) error {
	return c.call(ctx, "DELETE", "/proxies/"+url.PathEscape(name), nil, nil)
}

// SetFaults replaces both directions' native faults of a proxy (toxics stay) and
// returns the proxy. They act on the connections it accepts from now on: close a
// keep-alive client's idle connections after it (http.Client.CloseIdleConnections),
// and see [Client.WaitFresh].
func (c *Client) SetFaults(ctx context.Context, name string, f Faults) (Proxy, error) {
	var out Proxy
	err := c.call(ctx, "POST", "/proxies/"+url.PathEscape(name)+"/faults", f, &out)
	return out, err
}

// Faults returns a proxy's native faults.
func (c *Client) Faults(ctx context.Context, name string) (Faults, error) {
	var out Faults
	err := c.call(ctx, "GET", "/proxies/"+url.PathEscape(name)+"/faults", nil, &out)
	return out, err
}

// toxicBody is a toxic as the client sends it: a zero toxicity is left out, so the
// server's default (1, every connection) applies.
type toxicBody struct {
	Name       string           `json:"name,omitempty"`
	Type       string           `json:"type,omitempty"`
	Stream     string           `json:"stream,omitempty"`
	Toxicity   float64          `json:"toxicity,omitempty"`
	Attributes map[string]int64 `json:"attributes,omitempty"`
}

// AddToxic adds a Toxiproxy toxic to a proxy. Name "" is "<type>_<stream>", Stream ""
// downstream, Toxicity 0 is sent as absent: 1, every connection.
func (c *Client) AddToxic(ctx context.Context, proxy string, t Toxic) (Toxic, error) {
	var out Toxic
	err := c.call(ctx, "POST", "/proxies/"+url.PathEscape(proxy)+"/toxics",
		toxicBody{Name: t.Name, Type: t.Type, Stream: t.Stream, Toxicity: t.Toxicity, Attributes: t.Attributes}, &out)
	return out, err
}

// UpdateToxic changes the attributes given (and the toxicity, unless 0) of a toxic.
func (c *Client) UpdateToxic(ctx context.Context, proxy, name string, toxicity float64, attrs map[string]int64) (Toxic, error) {
	var out Toxic
	err := c.call(ctx, "POST", "/proxies/"+url.PathEscape(proxy)+"/toxics/"+url.PathEscape(name),
		toxicBody{Toxicity: toxicity, Attributes: attrs}, &out)
	return out, err
}

// RemoveToxic removes a toxic from a proxy.
func (c *Client) RemoveToxic(ctx context.Context, proxy, name string) error {
	return c.call(ctx, "DELETE", "/proxies/"+url.PathEscape(proxy)+"/toxics/"+url.PathEscape(name), nil, nil)
}

// Toxics returns a proxy's toxics in the order they were added.
func (c *Client) Toxics(ctx context.Context, proxy string) ([]Toxic, error) {
	var out []Toxic
	err := c.call(ctx, "GET", "/proxies/"+url.PathEscape(proxy)+"/toxics", nil, &out)
	return out, err
}

// Reset removes every toxic and native fault and enables every proxy.
func (c *Client) Reset(ctx context.Context) error {
	return c.call(ctx, "POST", "/reset", nil, nil)
}

// Metrics returns the Prometheus text of /metrics.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	status, b, err := c.Do(ctx, "GET", "/metrics", nil)
	if err == nil && status != http.StatusOK {
		err = &APIError{Status: status, Message: strings.TrimSpace(string(b))}
	}
	return string(b), err
}

// WaitFresh waits until no open connection of the proxy runs faults older than its
// last change (polling every 20ms, bounded by ctx): after a change, close your idle
// keep-alive connections, then wait, and every byte that flows runs the new faults.
func (c *Client) WaitFresh(ctx context.Context, proxy string) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		p, err := c.Proxy(ctx, proxy)
		if err != nil {
			return err
		}
		if p.Stats.StaleConnections == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("control client: proxy %q still has %d connections on older faults: %w", proxy, p.Stats.StaleConnections, ctx.Err())
		case <-t.C:
		}
	}
}
