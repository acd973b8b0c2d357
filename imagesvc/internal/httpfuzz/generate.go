package httpfuzz

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Class is a kind of input the fuzzer sends; the report counts outcomes per
// class.
type Class string

// The classes. Truncated uploads are one class per format, so that refusal
// rates can be read per format.
const (
	ValidChain       Class = "valid-chain"
	ValidUpload      Class = "valid-upload"
	BadChain         Class = "bad-chain"
	Bomb             Class = "bomb"
	TruncatedJPEG    Class = "truncated-jpeg"
	TruncatedPNG     Class = "truncated-png"
	TruncatedWebP    Class = "truncated-webp"
	TruncatedAVIF    Class = "truncated-avif"
	TruncatedTIFF    Class = "truncated-tiff"
	CutFraming       Class = "cut-framing"
	Slowloris        Class = "slowloris"
	SlowlorisStall   Class = "slowloris-stall"
	OversizedHeaders Class = "oversized-headers"
	Malformed        Class = "malformed"
	Abandon          Class = "abandon"
)

// truncatedClasses maps each truncated-upload class to its format.
var truncatedClasses = map[Class]string{
	TruncatedJPEG: "jpeg", TruncatedPNG: "png", TruncatedWebP: "webp", TruncatedAVIF: "avif", TruncatedTIFF: "tiff",
}

// Mix weighs the classes; a class with weight 0 is not sent.
type Mix map[Class]int

// FuzzMix is every class, weighted so that a minute covers all of them
// while most requests stay cheap (stalls hold a connection for the
// server's header timeout; bombs and abandoned work hold a core).
var FuzzMix = Mix{
	ValidChain: 30, ValidUpload: 10, BadChain: 20, Bomb: 3,
	TruncatedJPEG: 4, TruncatedPNG: 4, TruncatedWebP: 4, TruncatedAVIF: 2, TruncatedTIFF: 4,
	CutFraming: 4, Slowloris: 2, SlowlorisStall: 1, OversizedHeaders: 3, Malformed: 6, Abandon: 2,
}

// LoadMix is well-formed work only: the load tests and the soak.
var LoadMix = Mix{ValidChain: 80, ValidUpload: 20}

// TruncationMix is truncated uploads of every format only.
var TruncationMix = Mix{TruncatedJPEG: 1, TruncatedPNG: 1, TruncatedWebP: 1, TruncatedAVIF: 1, TruncatedTIFF: 1}

// expect says which outcomes of a probe are violations.
type expect int

const (
	expectAny      expect = iota // any answer but a 500; errors in JSON
	expectOK                     // a 200 (or a 503 shed); never closed without an answer
	expectRefusal                // anything but a 200
	expectClosed                 // the server closes the connection (or refuses in JSON)
	expectHangUp                 // we hang up; no answer is read
	expectNoAnswer               // nothing to check but that the service survives
)

// probe is one request as bytes on the wire, with how to send it.
type probe struct {
	class       Class
	what        string        // for reports: method, path, what was done to it
	head        []byte        // request line and headers, CRLF CRLF included
	body        []byte        // what is sent after the head
	pace        time.Duration // pause between head pieces of paceBytes (slowloris)
	paceBytes   int
	stall       bool          // send part of the head, then wait for the server to give up
	halfClose   bool          // half-close after the body (the server sees EOF)
	hangUpAfter time.Duration // close after this long without reading (abandon)
	expect      expect
}

// image is a built-in image as GET /images lists it.
type image struct {
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Kind   string `json:"kind"`
}

// catalog is what the generator knows of the service: its built-ins and
// encoded images of each format to upload (fetched from the service itself).
type catalog struct {
	photos  []image
	overlay image
	uploads map[string][]upload // format -> images
}

// upload is an encoded image and its size.
type upload struct {
	body []byte
	size dims
}

// generator draws probes for one worker.
type generator struct {
	rng *rand.Rand
	cat *catalog
}

var formats = []string{"jpeg", "png", "webp", "avif", "tiff"}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (g *generator) pick(weights map[string]int) string {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := g.rng.IntN(total)
	for _, k := range sortedKeys(weights) {
		if n < weights[k] {
			return k
		}
		n -= weights[k]
	}
	panic("httpfuzz: weights changed under pick")
}

// next draws a probe of a class picked by the mix.
func (g *generator) next(mix Mix) *probe {
	w := map[string]int{}
	for c, n := range mix {
		if n > 0 {
			w[string(c)] = n
		}
	}
	c := Class(g.pick(w))
	switch c {
	case ValidChain:
		return g.validChain()
	case ValidUpload:
		return g.validUpload()
	case BadChain:
		return g.badChain()
	case Bomb:
		return g.bomb()
	case CutFraming:
		return g.cutFraming()
	case Slowloris:
		return g.slowloris(false)
	case SlowlorisStall:
		return g.slowloris(true)
	case OversizedHeaders:
		return g.oversized()
	case Malformed:
		return g.malformed()
	case Abandon:
		return g.abandon()
	}
	if f, ok := truncatedClasses[c]; ok {
		return g.truncated(c, f)
	}
	panic(fmt.Sprintf("httpfuzz: no generator for class %q", c))
}

// dims is a running image size while a chain is drawn.
type dims struct{ w, h int }

// photo picks a built-in photo, small ones more often.
func (g *generator) photo() image {
	weights := map[string]int{}
	for i, p := range g.cat.photos {
		weights[p.Name] = []int{35, 30, 20, 10, 5, 3, 2}[min(i, 6)]
	}
	name := g.pick(weights)
	for _, p := range g.cat.photos {
		if p.Name == name {
			return p
		}
	}
	panic("httpfuzz: picked a photo that is not listed")
}

// chain draws a valid chain of 1..maxOps operations for an image of size d,
// keeping crops and overlays inside the image and blurs light; it shrinks
// large images first so that the valid class stays cheap.
func (g *generator) chain(d dims, maxOps int) (string, dims) {
	var ops []string
	if d.w*d.h > 2_000_000 && g.rng.IntN(4) > 0 {
		w := 200 + g.rng.IntN(1200)
		d = dims{w, max(1, d.h*w/d.w)}
		ops = append(ops, fmt.Sprintf("resize:w=%d", w))
	}
	n := 1 + g.rng.IntN(maxOps)
	for len(ops) < n {
		switch g.rng.IntN(9) {
		case 0:
			w, h := 16+g.rng.IntN(max(1, d.w)), 16+g.rng.IntN(max(1, d.h))
			switch g.rng.IntN(4) {
			case 0:
				ops = append(ops, fmt.Sprintf("resize:w=%d", w))
				d = dims{w, max(1, d.h*w/d.w)}
			case 1:
				ops = append(ops, fmt.Sprintf("resize:h=%d", h))
				d = dims{max(1, d.w*h/d.h), h}
			case 2:
				ops = append(ops, fmt.Sprintf("resize:w=%d,h=%d,fit=cover", w, h))
				d = dims{w, h}
			default:
				ops = append(ops, fmt.Sprintf("resize:w=%d,h=%d,fit=fill", w, h))
				d = dims{w, h}
			}
		case 1, 2:
			deg := []int{90, 180, 270}[g.rng.IntN(3)]
			ops = append(ops, fmt.Sprintf("rotate:deg=%d", deg))
			if deg != 180 {
				d = dims{d.h, d.w}
			}
		case 3:
			ops = append(ops, "flip")
		case 4:
			ops = append(ops, "flop")
		case 5, 6:
			if d.w < 4 || d.h < 4 {
				continue
			}
			w, h := 1+g.rng.IntN(d.w-1), 1+g.rng.IntN(d.h-1)
			x, y := g.rng.IntN(d.w-w+1), g.rng.IntN(d.h-h+1)
			name := []string{"crop", "extract"}[g.rng.IntN(2)]
			ops = append(ops, fmt.Sprintf("%s:x=%d,y=%d,w=%d,h=%d", name, x, y, w, h))
			d = dims{w, h}
		case 7:
			ops = append(ops, fmt.Sprintf("blur:sigma=%.1f", 0.3+g.rng.Float64()*2.7))
		default:
			ov := g.cat.overlay
			if ov.Width == 0 || d.w < ov.Width || d.h < ov.Height {
				continue
			}
			ops = append(ops, fmt.Sprintf("overlay:name=%s,x=%d,y=%d", ov.Name, g.rng.IntN(d.w-ov.Width+1), g.rng.IntN(d.h-ov.Height+1)))
		}
	}
	return strings.Join(ops, ";"), d
}

// outputQuery draws format, quality, speed and stream for a result of size d.
func (g *generator) outputQuery(d dims) string {
	weights := map[string]int{"jpeg": 40, "png": 12, "webp": 25, "tiff": 10, "avif": 8}
	if d.w*d.h > 1_500_000 {
		weights["avif"] = 0 // AVIF of large results belongs to the bomb class
		weights["png"] = 4
	}
	f := g.pick(weights)
	q := "&format=" + f
	if f == "jpeg" || f == "webp" || f == "avif" {
		q += fmt.Sprintf("&quality=%d", 30+g.rng.IntN(66))
	}
	if g.rng.IntN(10) == 0 {
		q += "&stream=1"
	}
	return q
}

// headers adds the usual headers and, sometimes, a digest preference and a
// request id.
func (g *generator) headers(method, target string, extra ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: imagesvc\r\nUser-Agent: httpfuzz\r\n", method, target)
	switch g.rng.IntN(3) {
	case 0:
		b.WriteString("Want-Content-Digest: crc32c=9, sha-256=1\r\n")
	case 1:
		b.WriteString("Want-Content-Digest: sha-512=3\r\n")
	}
	if g.rng.IntN(2) == 0 {
		fmt.Fprintf(&b, "X-Request-Id: fuzz-%x\r\n", g.rng.Uint64())
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.Bytes()
}

// escapeChain renders ops=CHAIN, with ';' raw or escaped (both are valid).
func (g *generator) escapeChain(c string) string {
	if c == "" {
		return ""
	}
	return "ops=" + strings.ReplaceAll(url.QueryEscape(c), "%3B", []string{";", "%3B"}[g.rng.IntN(2)])
}

func (g *generator) validChain() *probe {
	p := g.photo()
	c, d := g.chain(dims{p.Width, p.Height}, 5)
	target := "/images/" + p.Name + "?" + g.escapeChain(c) + g.outputQuery(d)
	return &probe{class: ValidChain, what: "GET " + target, head: g.headers("GET", target), expect: expectOK}
}

func (g *generator) upload() (string, []byte, dims) {
	f := g.pick(map[string]int{"jpeg": 40, "png": 20, "webp": 20, "avif": 8, "tiff": 12})
	all := g.cat.uploads[f]
	u := all[g.rng.IntN(len(all))]
	return f, u.body, u.size
}

func (g *generator) validUpload() *probe {
	f, img, d := g.upload()
	c, out := g.chain(d, 4)
	target := "/transform?" + g.escapeChain(c) + g.outputQuery(out)
	return &probe{class: ValidUpload, what: fmt.Sprintf("POST %s (%s, %d bytes)", target, f, len(img)),
		head: g.headers("POST", target, fmt.Sprintf("Content-Length: %d", len(img))), body: img, expect: expectOK}
}

// badChain mutates the grammar: every draw is one way of getting it wrong.
func (g *generator) badChain() *probe {
	p := g.photo()
	good, _ := g.chain(dims{p.Width, p.Height}, 3)
	junk := func(n int) string {
		const letters = "abcdefghijklmnopqrstuvwxyz"
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[g.rng.IntN(len(letters))]
		}
		return string(b)
	}
	mutations := []func() string{
		func() string { return "ops=" + junk(3+g.rng.IntN(8)) + ":w=10" },
		func() string { return "ops=resize:" + junk(2) + "=5" },
		func() string {
			return "ops=" + []string{"resize:w=0", "resize:w=99999", "resize:h=-4", "blur:sigma=1000", "blur:sigma=0",
				"rotate:deg=45", "rotate:deg=-90", "crop:x=-1,w=5,h=5", "resize:w=5,fit=cover", "resize:fit=fill"}[g.rng.IntN(10)]
		},
		func() string {
			return "ops=" + []string{"resize:w=abc", "blur:sigma=NaN", "resize:w=%2B5", "resize:w=1e3", "blur:sigma=Inf",
				"blur:sigma=0x10", "resize:w=5.5", "resize:w="}[g.rng.IntN(8)]
		},
		func() string {
			return "ops=" + []string{"rotate", "crop:w=5", "blur", "blur:", "resize"}[g.rng.IntN(5)]
		},
		func() string {
			return "ops=" + []string{";;", "flip;", ";flip", ":", "flip:x=1", "flip;;flop"}[g.rng.IntN(6)]
		},
		func() string { return "ops=blur:sigma=1,sigma=2" },
		func() string { return "ops=" + strings.Repeat("flip;", 16+g.rng.IntN(30)) + "flop" },
		func() string { return "ops=" + strings.Repeat("resize:w=10;", 400) },
		func() string { return "ops=%zz" + good },
		func() string { return g.escapeChain(good) + "&" + junk(5) + "=1" },
		func() string { return g.escapeChain(good) + "&format=jpeg&format=png" },
		func() string {
			return g.escapeChain(good) + "&format=" + []string{"gif", "bmp", "", "JPEG", "svg"}[g.rng.IntN(5)]
		},
		func() string {
			return g.escapeChain(good) + []string{"&quality=0", "&quality=101", "&speed=10", "&speed=-1", "&stream=yes", "&quality=%2B5"}[g.rng.IntN(6)]
		},
		func() string { return fmt.Sprintf("ops=crop:x=%d,y=0,w=10,h=10", p.Width) },
		func() string { return fmt.Sprintf("ops=overlay:x=%d,y=%d", p.Width-10, p.Height-10) },
		func() string { return "ops=overlay:name=" + junk(4) },
		func() string { return "ops=resize:w=32000,h=32000,fit=fill" },
	}
	q := mutations[g.rng.IntN(len(mutations))]()
	path := "/images/" + p.Name
	switch g.rng.IntN(12) {
	case 0:
		path = "/images/" + junk(6)
	case 1:
		path = "/" + junk(5)
	case 2:
		path = "/images/%2e%2e%2fetc%2fpasswd"
	}
	var extra []string
	if g.rng.IntN(15) == 0 {
		extra = append(extra, "X-Request-Id: "+[]string{"a b", strings.Repeat("x", 200), "ünï"}[g.rng.IntN(3)])
	}
	target := path + "?" + q
	return &probe{class: BadChain, what: "GET " + target, head: g.headers("GET", target, extra...), expect: expectAny}
}

// bomb asks for work out of proportion to the request: huge blurs, slow
// encoders on large images, long chains of expensive steps, pixel bombs.
func (g *generator) bomb() *probe {
	big := g.cat.photos[len(g.cat.photos)-1].Name
	targets := []string{
		"/images/" + big + "?ops=blur:sigma=100",
		"/images/" + big + "?ops=blur:sigma=60;blur:sigma=60",
		"/images/" + big + "?format=avif&speed=0",
		"/images/photo-4mp?ops=" + strings.TrimSuffix(strings.Repeat("blur:sigma=20;", 16), ";"),
		"/images/photo-small?ops=resize:w=7000;blur:sigma=30",
		"/images/photo-small?ops=resize:w=32768,h=32768,fit=fill",
		"/images/" + big + "?format=png&quality=100",
		"/images/photo-12mp?ops=rotate:deg=90;rotate:deg=90;rotate:deg=90;rotate:deg=90;blur:sigma=15&format=webp",
	}
	if g.rng.IntN(4) == 0 {
		img := pngHeaderOnly(50000, 50000)
		return &probe{class: Bomb, what: "POST /transform (PNG header claiming 50000x50000)",
			head: g.headers("POST", "/transform?ops=resize:w=10", fmt.Sprintf("Content-Length: %d", len(img))), body: img, expect: expectAny}
	}
	t := targets[g.rng.IntN(len(targets))]
	return &probe{class: Bomb, what: "GET " + t, head: g.headers("GET", t), expect: expectAny}
}

// truncated uploads an image file cut at a random point, framing intact:
// the HTTP body is complete, the image is not.
func (g *generator) truncated(c Class, f string) *probe {
	all := g.cat.uploads[f]
	u := all[g.rng.IntN(len(all))]
	img := u.body
	cut := 16 + g.rng.IntN(len(img)-16)
	c2, _ := g.chain(u.size, 2)
	target := "/transform?" + g.escapeChain(c2) + "&format=png"
	return &probe{class: c, what: fmt.Sprintf("POST %s (%s cut at %d of %d)", target, f, cut, len(img)),
		head: g.headers("POST", target, fmt.Sprintf("Content-Length: %d", cut)), body: img[:cut], expect: expectRefusal}
}

// cutFraming sends less body than the framing promises, then half-closes.
func (g *generator) cutFraming() *probe {
	_, img, _ := g.upload()
	cut := 1 + g.rng.IntN(len(img)-1)
	if g.rng.IntN(2) == 0 {
		return &probe{class: CutFraming, what: fmt.Sprintf("POST /transform (Content-Length %d, %d sent)", len(img), cut),
			head: g.headers("POST", "/transform", fmt.Sprintf("Content-Length: %d", len(img))), body: img[:cut],
			halfClose: true, expect: expectRefusal}
	}
	body := append([]byte(fmt.Sprintf("%x\r\n", cut)), img[:cut]...)
	body = append(body, "\r\n"...)
	return &probe{class: CutFraming, what: fmt.Sprintf("POST /transform (chunked, %d bytes, no last chunk)", cut),
		head: g.headers("POST", "/transform", "Transfer-Encoding: chunked"), body: body, halfClose: true, expect: expectRefusal}
}

// slowloris dribbles a valid request's head; with stall it stops half-way
// and waits for the server to give up on it.
func (g *generator) slowloris(stall bool) *probe {
	target := "/images/photo-small?ops=resize:w=" + fmt.Sprint(32+g.rng.IntN(200))
	head := g.headers("GET", target, "X-Padding: "+strings.Repeat("p", 40))
	p := &probe{class: Slowloris, what: "GET " + target + " (head dribbled)", head: head,
		pace: time.Duration(50+g.rng.IntN(150)) * time.Millisecond, paceBytes: 4 + g.rng.IntN(12), expect: expectOK}
	// at most ~4 s of dribbling: under any sane header timeout
	for time.Duration(len(head)/p.paceBytes)*p.pace > 4*time.Second {
		p.paceBytes *= 2
	}
	if stall {
		p.class, p.stall, p.expect = SlowlorisStall, true, expectClosed
		p.what = "GET " + target + " (head left unfinished)"
		p.head = head[:len(head)/2]
	}
	return p
}

func (g *generator) oversized() *probe {
	switch g.rng.IntN(3) {
	case 0:
		return &probe{class: OversizedHeaders, what: "GET /images (one 80-200 KiB header)",
			head: g.headers("GET", "/images", "X-Big: "+strings.Repeat("b", (80+g.rng.IntN(120))<<10)), expect: expectRefusal}
	case 1:
		var hs []string
		for i := range 3000 {
			hs = append(hs, fmt.Sprintf("X-H%d: %s", i, strings.Repeat("v", 20)))
		}
		return &probe{class: OversizedHeaders, what: "GET /images (3000 headers)", head: g.headers("GET", "/images", hs...), expect: expectRefusal}
	}
	target := "/images/photo-small?ops=" + strings.Repeat("a", 70<<10)
	return &probe{class: OversizedHeaders, what: "GET (70 KiB URL)", head: g.headers("GET", target), expect: expectRefusal}
}

func (g *generator) malformed() *probe {
	heads := []string{
		"HELLO\r\n\r\n",
		"GET /images HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET /images HTTP/2.0\r\nHost: x\r\n\r\n",
		"GET /images HTTP/1.1\r\n\r\n",
		"GET /images HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
		"POST /transform HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
		"GET /images HTTP/1.1\r\nHost: x\r\nExpect: wonders\r\n\r\n",
		"POST /transform HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"POST /transform HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
		"POST /transform HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /images HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
		"GET http://elsewhere.example/images HTTP/1.1\r\nHost: x\r\n\r\n",
		"DELETE /images HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /x/../images HTTP/1.1\r\nHost: x\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /images HTTP/1.1\r\nHost: x\r\n Folded: continuation\r\n\r\n",
	}
	h := heads[g.rng.IntN(len(heads))]
	return &probe{class: Malformed, what: fmt.Sprintf("%q", strings.SplitN(h, "\r\n", 2)[0]), head: []byte(h), halfClose: true, expect: expectAny}
}

// abandon asks for seconds of work and hangs up before the answer.
func (g *generator) abandon() *probe {
	target := []string{
		"/images/photo-4mp?ops=blur:sigma=30&quality=" + fmt.Sprint(50+g.rng.IntN(40)),
		"/images/photo-12mp?ops=blur:sigma=10&format=webp&quality=" + fmt.Sprint(50+g.rng.IntN(40)),
		"/images/photo-4mp?format=avif&speed=6&quality=" + fmt.Sprint(50+g.rng.IntN(40)),
	}[g.rng.IntN(3)]
	return &probe{class: Abandon, what: "GET " + target + " (hung up)", head: g.headers("GET", target),
		hangUpAfter: time.Duration(50+g.rng.IntN(950)) * time.Millisecond, expect: expectHangUp}
}

// pngHeaderOnly is a PNG signature and IHDR claiming w x h pixels, nothing
// more: decoding it would need gigabytes.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}
