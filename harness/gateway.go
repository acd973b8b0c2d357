package harness

import (
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/truncheck/truncheck/scenarios"
)

// newGateway is the gateway tier's handler relaying to upTr, whose
// requests use scheme (https when the upstream hop has TLS): Go's
// httputil.ReverseProxy, or the naive copier that launders cuts. Either
// relays from any protocol to any (HTTP/2 to the client, HTTP/1.1 upstream,
// as real proxies do), per the hops' settings.
func newGateway(kind scenarios.GatewayKind, upTr http.RoundTripper, scheme string) http.Handler {
	if kind == scenarios.Naive {
		return naiveGateway{tr: upTr, base: scheme + "://upstream"}
	}
	target := &url.URL{Scheme: scheme, Host: "upstream"}
	return &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Header["X-Forwarded-For"] = nil },
		Transport: upTr,
		ErrorLog:  quietLog,
	}
}

// naiveGateway is the close-delimited gateway: it relays the upstream
// response with io.Copy, ignores the copy's error and drops
// Content-Length, so Go's server re-chunks the body and ends it cleanly
// whatever happened upstream. The origin's Content-Digest and request id
// travel on.
type naiveGateway struct {
	tr   http.RoundTripper
	base string
}

func (g naiveGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, g.base+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	out.Header = r.Header.Clone()
	out.ContentLength = r.ContentLength
	resp, err := g.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, "upstream unreachable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		if k == "Content-Length" {
			continue
		}
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body) // the defect: the error is ignored
}
