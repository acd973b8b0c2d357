package imagesvc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hugePNGHeader is a PNG signature and a valid IHDR claiming w x h pixels, with
// no pixel data: decoding it would need gigabytes; the header check must refuse it.
func hugePNGHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// hugeTIFFHeader is a TIFF whose IFD claims w x h pixels, without the pixels.
func hugeTIFFHeader(w, h int) []byte {
	full := photoTIFF(1, 1, 1)
	binary.LittleEndian.PutUint32(full[8+2+8:], uint32(w))
	binary.LittleEndian.PutUint32(full[8+2+12+8:], uint32(h))
	binary.LittleEndian.PutUint32(full[8+2+7*12+8:], uint32(h)) // RowsPerStrip: one strip
	return full
}

type errJSON struct {
	Error    string `json:"error"`
	Accepted string `json:"accepted"`
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, Config{MaxUploadBytes: 1 << 20}, ServerConfig{})
	small, err := e.svc.TransformPath(t.Context(), "/images/photo-small?format=jpeg")
	require.NoError(t, err)
	tests := []struct {
		name       string
		method     string
		path       string
		body       []byte
		hdr        map[string]string
		wantStatus int
		wantError  string // substring of the JSON error
	}{
		{"upload ok", "POST", "/transform?ops=resize:w=100&format=png", small, nil, 200, ""},
		{"upload over limit", "POST", "/transform", bytes.Repeat([]byte{0xff}, 1<<20+1), nil, 413, "upload too large"},
		{"50k x 50k png header", "POST", "/transform", hugePNGHeader(50000, 50000), nil, 422, "image too large: 50000x50000 pixels"},
		{"50k x 50k tiff header", "POST", "/transform", hugeTIFFHeader(50000, 50000), nil, 422, "image"},
		{"garbage body", "POST", "/transform", []byte("this is not an image, just some words"), nil, 415, "body is not a supported image"},
		{"empty body", "POST", "/transform", nil, nil, 400, "empty image body"},
		{"half a jpeg, framing intact", "POST", "/transform", small[:len(small)/2], nil, 422, "image data is truncated or damaged"},
		{"unknown operation", "GET", "/images/photo-small?ops=sharpen:r=2", nil, nil, 400, `unknown operation "sharpen"`},
		{"bad parameter", "GET", "/images/photo-small?ops=rotate:deg=45", nil, nil, 400, `rotate: bad value "45" for deg`},
		{"too many operations", "GET", "/images/photo-small?ops=" + strings.Repeat("flip;", 16) + "flip", nil, nil, 400, "too many operations: 17"},
		{"unsupported format", "GET", "/images/photo-small?format=gif", nil, nil, 400, `unsupported output format "gif"`},
		{"bad quality", "GET", "/images/photo-small?quality=0", nil, nil, 400, `bad value "0" for quality`},
		{"unknown query parameter", "GET", "/images/photo-small?width=5", nil, nil, 400, `unknown query parameter "width"`},
		{"crop outside", "GET", "/images/photo-small?ops=crop:x=600,y=0,w=100,h=10", nil, nil, 400, "crop area 100x10 at 600,0 is outside the 640x480 image"},
		{"result over pixel limit", "GET", "/images/photo-small?ops=resize:w=32000,h=32000,fit=fill", nil, nil, 400, "over the limit"},
		{"wider than webp allows", "GET", "/images/photo-small?ops=resize:w=16384,h=8,fit=fill&format=webp", nil, nil, 400,
			"the result would be 16384x8 pixels: too large for webp"},
		{"twin: as wide as webp allows", "GET", "/images/photo-small?ops=resize:w=16383,h=8,fit=fill&format=webp", nil, nil, 200, ""},
		{"twin: that wide in png", "GET", "/images/photo-small?ops=resize:w=16384,h=8,fit=fill&format=png", nil, nil, 200, ""},
		{"unknown image", "GET", "/images/cat", nil, nil, 404, `no built-in image "cat"`},
		{"unknown route", "GET", "/nope", nil, nil, 404, "no such route"},
		{"fetch without upstream", "GET", "/fetch?src=/images/photo-small", nil, nil, 404, "no upstream configured"},
		{"bad request id", "GET", "/images/photo-small", nil, map[string]string{"X-Request-Id": "a b"}, 400, "X-Request-Id has a character outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.tcpBase+tt.path, bytes.NewReader(tt.body))
			require.NoError(t, err)
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			start := time.Now()
			resp, err := e.tcp.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			if resp.StatusCode == http.StatusOK {
				t.Logf("%d in %v: %d bytes", resp.StatusCode, time.Since(start).Round(time.Millisecond), len(body))
			} else {
				t.Logf("%d in %v: %s", resp.StatusCode, time.Since(start).Round(time.Millisecond), bytes.TrimSpace(body))
			}
			require.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			if tt.wantError == "" {
				return
			}
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var ej errJSON
			require.NoError(t, json.Unmarshal(body, &ej))
			assert.Contains(t, ej.Error, tt.wantError)
			assert.NotEmpty(t, ej.Accepted)
		})
	}
}

// rawRequest writes head+body on a fresh connection, half-closes it when
// asked, and reads one response: the way to send bytes no client would (a
// body shorter than its framing promises, a malformed request line).
func rawRequest(t *testing.T, network, addr, head string, body []byte, halfClose bool) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial(network, addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	// One write: a second, empty one for a nil body could meet a server that
	// has already answered and closed (EPIPE on a Unix socket). A server may
	// answer before reading everything, so a failed write counts only when
	// no response can be read.
	_, werr := c.Write(append([]byte(head), body...))
	if werr == nil && halfClose {
		werr = c.(interface{ CloseWrite() error }).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		require.NoError(t, werr, "writing the request")
	}
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestTruncatedUpload(t *testing.T) {
	e := newEnv(t, Config{}, ServerConfig{})
	img, err := e.svc.TransformPath(t.Context(), "/images/photo-1mp?format=jpeg")
	require.NoError(t, err)
	half := img[:len(img)/2]
	tests := []struct {
		name      string
		head      string
		body      []byte
		wantError string
	}{
		{"shorter than Content-Length",
			fmt.Sprintf("POST /transform HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(img)), half,
			fmt.Sprintf("upload body incomplete: got %d of %d bytes", len(half), len(img))},
		{"chunked without last chunk",
			"POST /transform HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
			append([]byte(fmt.Sprintf("%x\r\n", len(half))), append(half, "\r\n"...)...),
			fmt.Sprintf("upload body incomplete: chunked body ended without its last chunk after %d bytes", len(half))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rawRequest(t, "tcp", e.srv.TCPAddr(), tt.head, tt.body, true)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
			var ej errJSON
			require.NoError(t, json.Unmarshal(body, &ej))
			assert.Equal(t, tt.wantError, ej.Error)
		})
	}
	// the complete chunked upload works (no half-close: Go's server cancels the
	// request context when it sees EOF after the body)
	resp, body := rawRequest(t, "tcp", e.srv.TCPAddr(), "POST /transform?ops=resize:w=64 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
		append(append([]byte(fmt.Sprintf("%x\r\n", len(img))), img...), "\r\n0\r\n\r\n"...), false)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
}

func TestPanicRecovered(t *testing.T) {
	err := safeCall(func() error { panic("libvips blew up") })
	require.ErrorIs(t, err, ErrPanic)
	rec := &recorder{header: http.Header{}}
	status, _, _ := writeJSONError(rec, err)
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.JSONEq(t, `{"error":"internal error while transforming the image"}`, rec.body.String())
}

type recorder struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }
