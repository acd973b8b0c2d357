package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Item is one fault token split into its parts; Raw keeps the text for error messages.
type Item struct {
	Raw   string
	Name  string
	Value string // "" when the token had no "="
	HasP  bool
	P     float64
	Every int64  // 0 => not set
	Dir   string // "" => the fault's default
}

// Split cuts a spec into items. It checks only the syntax shared by every fault; the
// caller checks names and values. Blank specs yield no items.
func Split(s string) ([]Item, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var items []Item
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			return nil, fmt.Errorf("empty fault in %q (faults are separated by single commas)", s)
		}
		it, err := splitOne(raw)
		if err != nil {
			return nil, fmt.Errorf("fault %q: %w", raw, err)
		}
		items = append(items, it)
	}
	return items, nil
}

func splitOne(raw string) (Item, error) {
	it := Item{Raw: raw}
	parts := strings.Split(raw, "@")
	head := parts[0]
	name, value, hasValue := strings.Cut(head, "=")
	it.Name = strings.TrimSpace(name)
	it.Value = strings.TrimSpace(value)
	if it.Name == "" {
		return it, fmt.Errorf("missing fault name before %q", head)
	}
	if hasValue && it.Value == "" {
		return it, fmt.Errorf("empty value after %q", it.Name+"=")
	}
	seen := map[string]bool{}
	for _, m := range parts[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(m), "=")
		if !ok || v == "" {
			return it, fmt.Errorf("modifier %q: want key=value; accepted: p=PROBABILITY, every=N, dir=read|write|both", "@"+m)
		}
		if seen[k] {
			return it, fmt.Errorf("modifier %q given twice", k)
		}
		seen[k] = true
		switch k {
		case "p":
			p, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(p) || p <= 0 || p > 1 {
				return it, fmt.Errorf("modifier %q: probability must be a number in (0, 1]", "@"+m)
			}
			it.HasP, it.P = true, p
		case "every":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return it, fmt.Errorf("modifier %q: every must be a whole number >= 1", "@"+m)
			}
			it.Every = n
		case "dir":
			if v != "read" && v != "write" && v != "both" {
				return it, fmt.Errorf("modifier %q: accepted directions: read, write, both", "@"+m)
			}
			it.Dir = v
		default:
			return it, fmt.Errorf("unknown modifier %q; accepted: p=PROBABILITY, every=N, dir=read|write|both", "@"+m)
		}
	}
	return it, nil
}

// units maps accepted size suffixes to their multipliers: IEC (1024-based) and SI
// (1000-based) with their exact spellings, so "KiB" and "kB" never mean the same thing.
var units = []struct {
	suffix string
	mult   int64
}{
	{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}, {"B", 1},
}

// SizeSuffixes lists the accepted size units for error messages.
const SizeSuffixes = "a number of bytes with an optional unit: B, KiB, MiB, GiB (1024-based) or kB, MB, GB (1000-based), e.g. 512, 64KiB, 1.5MB"

// ParseSize parses "1000", "1000B", "256KiB", "3MiB", "1kB", "1.5MB". A
// decimal fraction is allowed when the size comes out a whole number of
// bytes ("1.5MiB" is 1572864; "1.0001kB" is refused). Sizes are >= 0.
// "KB", "K" and "k" are refused as ambiguous.
func ParseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	whole, frac, hasFrac := strings.Cut(num, ".")
	if whole == "" || strings.ContainsAny(whole, "+-") || (hasFrac && (frac == "" || strings.ContainsAny(frac, "+-"))) {
		return 0, fmt.Errorf("bad size %q: want %s", s, SizeSuffixes)
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q: want %s", s, SizeSuffixes)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("bad size %q: too large", s)
	}
	n *= mult
	if hasFrac {
		if len(frac) > 9 {
			return 0, fmt.Errorf("bad size %q: more than 9 decimals", s)
		}
		f, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad size %q: want %s", s, SizeSuffixes)
		}
		scale := int64(math.Pow10(len(frac)))
		if (f*mult)%scale != 0 && f != 0 {
			return 0, fmt.Errorf("bad size %q: not a whole number of bytes", s)
		}
		add := f * mult / scale // f < 1e9, mult <= 2^30: no overflow
		if n > math.MaxInt64-add {
			return 0, fmt.Errorf("bad size %q: too large", s)
		}
		n += add
	}
	return n, nil
}

// FormatSize prints n with the largest IEC unit that divides it exactly, else the largest
// SI unit that does, else in bytes; ParseSize(FormatSize(n)) == n.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// ParseDuration is time.ParseDuration refusing negatives.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q: want a non-negative Go duration such as 5ms, 250us, 1.5s", s)
	}
	return d, nil
}

// FormatProb prints a probability so that ParseFloat gives it back exactly.
func FormatProb(p float64) string { return strconv.FormatFloat(p, 'g', -1, 64) }
