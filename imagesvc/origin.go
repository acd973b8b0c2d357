package imagesvc

import (
	"context"
	"net/http"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/results"
)

// NewOrigin returns the image service as an in-process origin for the
// harness (package harness/origin is the seam): its handler, its own
// accounts, its answers as the reference (deterministic images: its clean
// twin is right by construction), and its /fetch route as the outer tier
// of a nested pipeline.
func NewOrigin(cfg Config) (origin.Origin, error) {
	svc, err := New(cfg)
	if err != nil {
		return origin.Origin{}, err
	}
	o := origin.Origin{
		Name:        "imagesvc",
		Handler:     svc.Handler(),
		Accounts:    accountBook{svc},
		ConnContext: ConnContext,
		Trusted:     true,
	}
	o.Outer = func(upstream *http.Client, base string) (origin.Origin, error) {
		outer := cfg
		outer.Upstream = &Upstream{Client: upstream, BaseURL: base}
		return NewOrigin(outer)
	}
	return o, nil
}

// accountBook is the service's account store as the origin seam sees it.
type accountBook struct{ s *Service }

func (b accountBook) Wait(ctx context.Context, id string) (results.Account, bool) {
	return b.s.WaitAccount(ctx, id)
}
