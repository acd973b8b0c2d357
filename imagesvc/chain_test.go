package imagesvc

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseChain(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string // canonical form, or "" for the empty chain
	}{
		{"empty", "", ""},
		{"resize width only", "resize:w=800", "resize:w=800,fit=contain"},
		{"resize cover", "resize:w=800,h=600,fit=cover", "resize:w=800,h=600,fit=cover"},
		{"inside alias", "resize:h=10,w=20,fit=inside", "resize:w=20,h=10,fit=contain"},
		{"full example", "resize:w=800,h=600,fit=cover;rotate:deg=90;flip;flop;crop:x=0,y=0,w=100,h=100;blur:sigma=1.5;overlay:name=logo,x=10,y=10",
			"resize:w=800,h=600,fit=cover;rotate:deg=90;flip;flop;crop:x=0,y=0,w=100,h=100;blur:sigma=1.5;overlay:name=logo,x=10,y=10"},
		{"extract alias, defaults", "extract:w=5,h=6", "crop:x=0,y=0,w=5,h=6"},
		{"overlay defaults", "overlay", "overlay:name=logo,x=0,y=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseChain(tt.give, 16)
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.String())
		})
	}
}

func TestParseChainErrors(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string // substring of the error
	}{
		{"unknown op", "sharpen:r=1", `operation 1: unknown operation "sharpen"`},
		{"empty op", "flip;;flop", "operation 2: empty operation"},
		{"unknown param", "resize:w=1,q=2", `resize: unknown parameter "q"`},
		{"not key=value", "resize:w", `resize: parameter "w" is not key=value`},
		{"bad int", "resize:w=abc", `resize: bad value "abc" for w`},
		{"zero width", "resize:w=0", `resize: bad value "0" for w`},
		{"huge width", "resize:w=99999", `resize: bad value "99999" for w`},
		{"resize no size", "resize:fit=cover", "resize: needs w or h"},
		{"cover one side", "resize:w=5,fit=cover", "resize: fit=cover needs both w and h"},
		{"bad fit", "resize:w=5,fit=squash", `resize: bad value "squash" for fit`},
		{"bad angle", "rotate:deg=45", `rotate: bad value "45" for deg`},
		{"missing deg", "rotate", "rotate: missing parameter deg"},
		{"flip with params", "flip:x=1", `flip: unknown parameter "x"`},
		{"dup param", "blur:sigma=1,sigma=2", `blur: parameter "sigma" given twice`},
		{"bad sigma", "blur:sigma=NaN", `blur: bad value "NaN" for sigma`},
		{"crop missing h", "crop:w=5", "crop: missing parameter h"},
		{"negative x", "crop:x=-1,w=5,h=5", `crop: bad value "-1" for x`},
		{"unknown overlay", "overlay:name=cat", `overlay: unknown overlay "cat"`},
		{"too many", strings.Repeat("flip;", 16) + "flip", "too many operations: 17"},
		{"empty params", "blur:", "blur: empty parameter list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseChain(tt.give, 16)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, errors.Is(err, ErrBadRequest))
			assert.Contains(t, err.Error(), "accepted: ")
		})
	}
}

// FuzzParseChain: the parser never panics, and whatever it accepts round-trips
// through its canonical form.
func FuzzParseChain(f *testing.F) {
	for _, s := range []string{"", "resize:w=800,h=600,fit=cover;rotate:deg=90", "flip;flop", "crop:x=1,y=2,w=3,h=4",
		"blur:sigma=1.5", "overlay:name=logo,x=10,y=10", "resize:w=", ";;", "blur:sigma=1e3", "rotate:deg=+90"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseChain(s, 16)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error not marked ErrBadRequest: %v", err)
			}
			return
		}
		again, err := parseChain(c.String(), 16)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", c.String(), s, err)
		}
		if again.String() != c.String() {
			t.Fatalf("round trip: %q -> %q", c.String(), again.String())
		}
	})
}
