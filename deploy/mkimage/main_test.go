package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestBadUsage: each mistake is an error naming it (the image itself is
// tested in package deploy).
func TestBadUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		give []string
		want string
	}{
		{[]string{}, "--binary is required"},
		{[]string{"--binary", "x"}, "nothing to write: give --layout DIR, --tar FILE or both"},
		{[]string{"--binary", "x", "--tar", filepath.Join(dir, "t.tar"), "--tag", "truncheck"}, `--tag "truncheck": accepted: NAME:TAG`},
		{[]string{"--binary", filepath.Join(dir, "missing"), "--layout", dir}, "no such file"},
		{[]string{"--binary", "x", "extra"}, "unexpected arguments"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := run(tt.give, &out)
		assert.ErrorContains(t, err, tt.want, "%q", tt.give)
	}
}
