package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/truncheck/truncheck/harness/origin"
)

// originMaker builds an in-process origin by the name a scenario gives
// (Scenario.Origin). The image service needs cgo (bimg on libvips), so it
// is added by origins_cgo.go only; a binary built with CGO_ENABLED=0 has
// every other origin and says plainly how to get that one.
type originMaker func() (origin.Origin, error)

// knownOrigins returns a fresh map of the origins this binary can build.
func knownOrigins() map[string]originMaker {
	m := map[string]originMaker{
		"bodies": func() (origin.Origin, error) { return origin.Bodies(), nil },
	}
	addImageOrigin(m)
	return m
}

// originSet builds each origin once per invocation and closes them all.
type originSet struct {
	makers map[string]originMaker
	built  map[string]*origin.Origin
}

func newOriginSet() *originSet {
	return &originSet{makers: knownOrigins(), built: map[string]*origin.Origin{}}
}

// get returns the named origin, building it the first time.
func (s *originSet) get(name string) (*origin.Origin, error) {
	if o, ok := s.built[name]; ok {
		return o, nil
	}
	make, ok := s.makers[name]
	if !ok {
		if name == "imagesvc" {
			return nil, envError{errNoImageService}
		}
		return nil, usagef("unknown origin %q (accepted: %s)", name, originNames(s.makers))
	}
	o, err := make()
	if err != nil {
		return nil, envError{fmt.Errorf("origin %s: %w", name, err)}
	}
	s.built[name] = &o
	return &o, nil
}

func (s *originSet) close() {
	for _, o := range s.built {
		if o.Close != nil {
			_ = o.Close()
		}
	}
}

func originNames(m map[string]originMaker) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}
