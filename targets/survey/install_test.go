package survey

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInstallQuietWhenPresent: for servers whose packages are all there,
// Install asks dpkg only and reports nothing done.
func TestInstallQuietWhenPresent(t *testing.T) {
	ctx := context.Background()
	var present []Server
	for _, s := range Servers() {
		if _, err := s.PackageVersion(ctx); err == nil && s.Installed() {
			present = append(present, s)
		}
	}
	if len(present) == 0 {
		t.Skip("no server's packages are installed")
	}
	reports, err := Install(ctx, present...)
	require.NoError(t, err)
	require.Len(t, reports, len(present))
	for i, r := range reports {
		assert.Equal(t, present[i].Name, r.Server)
		assert.Empty(t, r.Installed, r.Server)
		assert.Empty(t, r.Stopped, r.Server)
	}
}
