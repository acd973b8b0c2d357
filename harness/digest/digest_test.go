package digest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func b64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestParse(t *testing.T) {
	// "hello" per RFC 9530's examples style.
	sha := Sum(SHA256, []byte("hello"))
	shaField := "sha-256=:" + base64.StdEncoding.EncodeToString(sha) + ":"
	tests := []struct {
		name    string
		give    string
		want    []Digest
		wantErr bool
	}{
		{name: "one", give: shaField, want: []Digest{{SHA256, sha}}},
		{name: "two, parameters ignored", give: "crc32c=:AAAAAA==:;p=1, " + shaField,
			want: []Digest{{CRC32C, b64("AAAAAA==")}, {SHA256, sha}}},
		{name: "unknown algorithm kept", give: "sha-384=:AAAA:, md5=:AAAA:",
			want: []Digest{{"sha-384", b64("AAAA")}, {"md5", b64("AAAA")}}},
		{name: "duplicate keeps last", give: "crc32c=:AAAAAA==:, crc32c=:AQIDBA==:",
			want: []Digest{{CRC32C, []byte{1, 2, 3, 4}}}},
		{name: "empty", give: "", wantErr: true},
		{name: "blank", give: "   ", wantErr: true},
		{name: "not a byte sequence", give: "sha-256=abc", wantErr: true},
		{name: "integer value", give: "sha-256=3", wantErr: true},
		{name: "unterminated", give: "sha-256=:abc", wantErr: true},
		{name: "bad base64", give: "sha-256=:!!!!:", wantErr: true},
		{name: "uppercase key", give: "SHA-256=:AAAA:", wantErr: true},
		{name: "inner list", give: "sha-256=(:AAAA:)", wantErr: true},
		{name: "legacy Digest syntax", give: "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.give)
			if tt.wantErr {
				require.Error(t, err)
				assert.True(t, errors.Is(err, ErrMalformed), "%v wraps ErrMalformed", err)
				assert.Contains(t, err.Error(), "accepted")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFormatRoundTrip(t *testing.T) {
	ds := []Digest{{CRC32C, CRC32CBytes(0xdeadbeef)}, {SHA512, Sum(SHA512, []byte("x"))}}
	s, err := Format(ds...)
	require.NoError(t, err)
	assert.Equal(t, "crc32c=:3q2+7w==:, sha-512="+":"+base64.StdEncoding.EncodeToString(ds[1].Value)+":", s)
	back, err := Parse(s)
	require.NoError(t, err)
	assert.Equal(t, ds, back)
	_, err = Format(Digest{Algorithm: "Bad Name", Value: []byte{1}})
	assert.Error(t, err)
}

// TestFieldText: a stated digest keeps the field's text in JSON and
// parses it strictly on the way back in.
func TestFieldText(t *testing.T) {
	type stated struct {
		Digest Field `json:"digest,omitempty"`
	}
	in := stated{Digest: Field{{SHA256, Sum(SHA256, nil)}}}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"digest":"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"}`, string(b))
	var back stated
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, in, back)

	b, err = json.Marshal(stated{})
	require.NoError(t, err)
	assert.Equal(t, `{}`, string(b), "no field, no text")
	assert.ErrorIs(t, json.Unmarshal([]byte(`{"digest":"sha-256=abc"}`), &back), ErrMalformed)
}

func TestSumsAndHashes(t *testing.T) {
	// The CRC-32C check value of "123456789" is 0xe3069283.
	assert.Equal(t, []byte{0xe3, 0x06, 0x92, 0x83}, Sum(CRC32C, []byte("123456789")))
	assert.Equal(t, []byte{0xe3, 0x06, 0x92, 0x83}, CRC32CBytes(0xe3069283))
	for _, alg := range []string{SHA256, SHA512, CRC32C} {
		assert.True(t, Supported(alg))
		h := NewHash(alg)
		require.NotNil(t, h)
		h.Write([]byte("abc"))
		assert.Equal(t, Sum(alg, []byte("abc")), h.Sum(nil), alg)
	}
	for _, alg := range []string{"sha-384", "md5", "SHA-256", ""} {
		assert.False(t, Supported(alg), alg)
		assert.Nil(t, NewHash(alg), alg)
		assert.Nil(t, Sum(alg, nil), alg)
	}
}

func TestWant(t *testing.T) {
	prefs, err := ParseWant("crc32c=9, sha-256=1")
	require.NoError(t, err)
	assert.Equal(t, []Preference{{CRC32C, 9}, {SHA256, 1}}, prefs)
	assert.Equal(t, "crc32c=9, sha-256=1", FormatWant(prefs...))
	for _, bad := range []string{"", "crc32c=11", "crc32c=-1", "crc32c=:AAAA:", "crc32c=1.5", "x=(1 2)"} {
		_, err := ParseWant(bad)
		assert.ErrorIs(t, err, ErrMalformed, bad)
	}
	tests := []struct{ give, want string }{
		{"crc32c=9, sha-256=1", CRC32C},
		{"sha-256=1, sha-512=1", SHA512}, // tie: the stronger hash
		{"sha-256=0, crc32c=0", SHA256},  // nothing acceptable: fallback
		{"sha-384=10, md5=9", SHA256},    // nothing supported: fallback
		{"not a dictionary ((", SHA256},  // malformed: fallback
		{"", SHA256},                     // absent: fallback
		{"crc32c=1, sha-512=2", SHA512},  // highest weight wins
		{"sha-512=3, crc32c=3, sha-256=3", SHA512},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Choose(tt.give, SHA256), tt.give)
	}
}

// FuzzParse: the parser never panics; whatever it accepts formats back to a
// field that parses to the same digests; whatever it refuses wraps
// ErrMalformed.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"sha-256=:AAAA:", "crc32c=:3q2+7w==:, sha-512=:AAAA:;p=1", "md5=:AAAA:", "sha-256=3",
		"", ",", "a=:", "sha-256=:AAAA:, sha-256=:AQID:", "x=(:AAAA:)", "sha-256=?1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		ds, err := Parse(field)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrMalformed", field, err)
			}
			return
		}
		s, err := Format(ds...)
		if err != nil {
			t.Fatalf("Format(Parse(%q)): %v", field, err)
		}
		back, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(Format(Parse(%q))) = %q: %v", field, s, err)
		}
		if len(back) != len(ds) {
			t.Fatalf("round trip of %q: %d digests, then %d", field, len(ds), len(back))
		}
		for i := range ds {
			if back[i].Algorithm != ds[i].Algorithm || !bytes.Equal(back[i].Value, ds[i].Value) {
				t.Fatalf("round trip of %q: %v became %v", field, ds[i], back[i])
			}
		}
		_, _ = ParseWant(field)
		_ = Choose(field, SHA256)
	})
}
