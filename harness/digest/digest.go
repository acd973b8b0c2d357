package digest

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"slices"
	"strings"

	"github.com/dunglas/httpsfv"
)

// The algorithms this package computes, by their registry names.
const (
	SHA256 = "sha-256"
	SHA512 = "sha-512"
	CRC32C = "crc32c"
)

// supported lists the computable algorithms, weakest first; the order breaks
// ties in [Choose].
var supported = []string{CRC32C, SHA256, SHA512}

// Supported reports whether alg is an algorithm this package can compute.
func Supported(alg string) bool { return slices.Contains(supported, alg) }

// SupportedNames lists the computable algorithms, for error messages.
func SupportedNames() string { return strings.Join(supported, ", ") }

// Castagnoli is the CRC-32C table every crc32c digest and fingerprint uses.
var Castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewHash returns a streaming hash for alg, or nil when alg is not
// [Supported]. A crc32c hash sums to 4 big-endian bytes.
func NewHash(alg string) hash.Hash {
	switch alg {
	case SHA256:
		return sha256.New()
	case SHA512:
		return sha512.New()
	case CRC32C:
		return crc32.New(Castagnoli)
	}
	return nil
}

// Sum returns the digest of b with alg (nil when alg is not supported).
func Sum(alg string, b []byte) []byte {
	h := NewHash(alg)
	if h == nil {
		return nil
	}
	h.Write(b)
	return h.Sum(nil)
}

// CRC32CBytes renders a CRC-32C value the way a crc32c digest carries it.
func CRC32CBytes(crc uint32) []byte { return binary.BigEndian.AppendUint32(nil, crc) }

// Digest is one member of a Content-Digest field.
type Digest struct {
	Algorithm string // lowercase registry name, e.g. "sha-256"
	Value     []byte // the raw digest
}

// String renders the member, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`.
func (d Digest) String() string {
	s, err := Format(d)
	if err != nil {
		return d.Algorithm + "=?"
	}
	return s
}

// Field is a parsed Content-Digest field: what a scenario states a body's
// digest to be. Its text form is the field's, so files and plans keep it
// readable, and reading it back parses it strictly.
type Field []Digest

// String renders the field, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`.
func (f Field) String() string {
	if len(f) == 0 {
		return ""
	}
	s, err := Format(f...)
	if err != nil {
		return "?"
	}
	return s
}

// MarshalText writes the field's text.
func (f Field) MarshalText() ([]byte, error) {
	if len(f) == 0 {
		return nil, nil
	}
	s, err := Format(f...)
	return []byte(s), err
}

// UnmarshalText parses the field's text with [Parse]; empty text is no field.
func (f *Field) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*f = nil
		return nil
	}
	ds, err := Parse(string(b))
	if err != nil {
		return err
	}
	*f = ds
	return nil
}

// ErrMalformed is wrapped by every parse error: the field is not the
// structured field RFC 9530 defines.
var ErrMalformed = errors.New("malformed digest field")

// Parse reads a Content-Digest (or Repr-Digest) field value. Every member
// must be a byte sequence (`alg=:base64:`); parameters are ignored as RFC
// 9530 asks. Unknown algorithms are kept (check them with [Supported]);
// duplicate keys keep the last value, as RFC 9651 dictionaries do. An empty
// field is an error: a sender that has no digest omits the field.
func Parse(field string) ([]Digest, error) {
	return parseLines([]string{field})
}

// ParseValues is [Parse] over every line of a field (a header that came
// several times, or a header and its trailer twin).
func ParseValues(lines []string) ([]Digest, error) { return parseLines(lines) }

func parseLines(lines []string) ([]Digest, error) {
	if strings.TrimSpace(strings.Join(lines, "")) == "" {
		return nil, fmt.Errorf("%w: empty (accepted: alg=:base64:, e.g. sha-256=:...:)", ErrMalformed)
	}
	dict, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v (accepted: a structured-field dictionary such as sha-256=:base64:)", ErrMalformed, strings.Join(lines, ", "), err)
	}
	var out []Digest
	for _, name := range dict.Names() {
		m, _ := dict.Get(name)
		item, ok := m.(httpsfv.Item)
		if !ok {
			return nil, fmt.Errorf("%w: %s is an inner list (accepted: a byte sequence :base64:)", ErrMalformed, name)
		}
		b, ok := item.Value.([]byte)
		if !ok {
			return nil, fmt.Errorf("%w: %s=%v is not a byte sequence (accepted: :base64:)", ErrMalformed, name, item.Value)
		}
		out = append(out, Digest{Algorithm: name, Value: b})
	}
	return out, nil
}

// Format renders digests as a Content-Digest field value.
func Format(ds ...Digest) (string, error) {
	dict := httpsfv.NewDictionary()
	for _, d := range ds {
		dict.Add(d.Algorithm, httpsfv.NewItem(d.Value))
	}
	s, err := httpsfv.Marshal(dict)
	if err != nil {
		return "", fmt.Errorf("digest: format %v: %w", algorithms(ds), err)
	}
	return s, nil
}

func algorithms(ds []Digest) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Algorithm
	}
	return out
}

// Preference is one member of a Want-Content-Digest field.
type Preference struct {
	Algorithm string
	Weight    int // 0 (not acceptable) to 10 (most preferred)
}

// ParseWant reads a Want-Content-Digest field: a dictionary of integer
// weights from 0 to 10.
func ParseWant(field string) ([]Preference, error) {
	if strings.TrimSpace(field) == "" {
		return nil, fmt.Errorf("%w: empty Want-Content-Digest (accepted: alg=WEIGHT, e.g. crc32c=9, sha-256=1)", ErrMalformed)
	}
	dict, err := httpsfv.UnmarshalDictionary([]string{field})
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v (accepted: alg=WEIGHT, e.g. crc32c=9, sha-256=1)", ErrMalformed, field, err)
	}
	var out []Preference
	for _, name := range dict.Names() {
		m, _ := dict.Get(name)
		item, ok := m.(httpsfv.Item)
		w, isInt := item.Value.(int64)
		if !ok || !isInt || w < 0 || w > 10 {
			return nil, fmt.Errorf("%w: %s: weight %v (accepted: an integer from 0 to 10)", ErrMalformed, name, item.Value)
		}
		out = append(out, Preference{Algorithm: name, Weight: int(w)})
	}
	return out, nil
}

// FormatWant renders preferences as a Want-Content-Digest field value.
func FormatWant(ps ...Preference) string {
	dict := httpsfv.NewDictionary()
	for _, p := range ps {
		dict.Add(p.Algorithm, httpsfv.NewItem(int64(p.Weight)))
	}
	s, _ := httpsfv.Marshal(dict) // integers 0..10 and registry names always serialize
	return s
}

// Choose picks the algorithm a server should answer a Want-Content-Digest
// with: the supported algorithm of highest weight (weight 0 means "not
// acceptable"), ties going to the stronger hash; fallback when the field is
// absent, malformed or names nothing supported.
func Choose(want, fallback string) string {
	if want == "" {
		return fallback
	}
	prefs, err := ParseWant(want)
	if err != nil {
		return fallback
	}
	best, bestW := "", 0
	for _, p := range prefs {
		if !Supported(p.Algorithm) || p.Weight == 0 {
			continue
		}
		if p.Weight > bestW || (p.Weight == bestW && slices.Index(supported, p.Algorithm) > slices.Index(supported, best)) {
			best, bestW = p.Algorithm, p.Weight
		}
	}
	if best == "" {
		return fallback
	}
	return best
}
