package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseSize(t *testing.T) {
	good := []struct {
		give string
		want int64
	}{
		{"0", 0}, {"1000", 1000}, {"1000B", 1000}, {"1KiB", 1024}, {"256KiB", 256 << 10},
		{"3MiB", 3 << 20}, {"2GiB", 2 << 30}, {"1kB", 1000}, {"5MB", 5e6}, {"1GB", 1e9},
		{"1.5MiB", 3 << 19}, {"1.5MB", 1_500_000}, {"0.5KiB", 512}, {"2.25kB", 2250}, {"3.0B", 3}, {"1.000001MB", 1_000_001},
	}
	for _, tt := range good {
		got, err := ParseSize(tt.give)
		require.NoError(t, err, tt.give)
		assert.Equal(t, tt.want, got, tt.give)
		back, err := ParseSize(FormatSize(got))
		require.NoError(t, err)
		assert.Equal(t, got, back, "round trip of %s", FormatSize(got))
	}
	for _, bad := range []string{"", "KiB", "1KB", "1K", "1k", "-1", "1 KiB", "0x10", "1kib",
		"1.", ".5", "1.5B", "1.0001kB", "1e3", "1.-5kB", "1.2.3MB", "1.1234567891GB"} {
		_, err := ParseSize(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "1MiB", FormatSize(1<<20))
	assert.Equal(t, "3MB", FormatSize(3e6))
	assert.Equal(t, "1001", FormatSize(1001))
	assert.Equal(t, "0", FormatSize(0))
}

func TestSplit(t *testing.T) {
	items, err := Split("latency=5ms~2ms@dir=read, close-after=1KiB@p=0.5@every=2,buffered-shutdown")
	require.NoError(t, err)
	assert.Equal(t, []Item{
		{Raw: "latency=5ms~2ms@dir=read", Name: "latency", Value: "5ms~2ms", Dir: "read"},
		{Raw: "close-after=1KiB@p=0.5@every=2", Name: "close-after", Value: "1KiB", HasP: true, P: 0.5, Every: 2},
		{Raw: "buffered-shutdown", Name: "buffered-shutdown"},
	}, items)
	items, err = Split("  ")
	assert.NoError(t, err)
	assert.Nil(t, items)
}
