package results

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is one part of a run split across processes or machines (the
// pods of a Kubernetes Indexed Job, the jobs of a CI matrix): shard Index
// of Count, numbered from 0 like JOB_COMPLETION_INDEX. The zero Shard is
// a whole run.
//
// The shards of one run share its run id and its scenario set, and each
// does a deterministic, disjoint part of the work, so that together they
// do what one run would, each piece once:
//
//   - a scenario bounded by its count: request sequence number seq belongs
//     to one shard only ([Shard.Owns]); the request a seq sends is drawn
//     from the scenario's seed and seq alone, so the shards send the very
//     requests one run sends;
//   - a soak (bounded by time): the rounds of every scenario are dealt out,
//     round k*Count+Index to this shard's k-th round ([Shard.Round]); each
//     shard walks the whole mix for the whole duration, no round (and so no
//     seed) runs twice, and the shards together are one soak of Count
//     times the load.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// MaxShards bounds a shard count: far beyond any fleet of runners, and
// small enough that a typo such as 0/40000 is an error, not a plan.
const MaxShards = 1000

// ParseShard parses "K/N": shard K of N, 0 <= K < N <= [MaxShards].
func ParseShard(s string) (Shard, error) {
	k, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	ki, kerr := strconv.Atoi(k)
	ni, nerr := strconv.Atoi(n)
	if !ok || kerr != nil || nerr != nil {
		return Shard{}, fmt.Errorf("shard %q: want K/N, shard K of N counted from 0, e.g. 0/4 to 3/4", s)
	}
	sh := Shard{Index: ki, Count: ni}
	if ni < 1 { // 0/0 would read as the whole run
		return Shard{}, fmt.Errorf("shard %q: shard count %d (accepted: 1 to %d)", s, ni, MaxShards)
	}
	if err := sh.Validate(); err != nil {
		return Shard{}, fmt.Errorf("shard %q: %w", s, err)
	}
	return sh, nil
}

// Validate checks a shard that is not zero: a count from 1 to
// [MaxShards] and an index below it.
func (s Shard) Validate() error {
	switch {
	case s.IsZero():
		return nil
	case s.Count < 1 || s.Count > MaxShards:
		return fmt.Errorf("shard count %d (accepted: 1 to %d)", s.Count, MaxShards)
	case s.Index < 0 || s.Index >= s.Count:
		return fmt.Errorf("shard index %d of %d (accepted: 0 to %d; shards are counted from 0, like JOB_COMPLETION_INDEX)",
			s.Index, s.Count, s.Count-1)
	}
	return nil
}

// IsZero reports whether s is the whole run.
func (s Shard) IsZero() bool { return s == Shard{} }

// String renders "K/N", or "" for the whole run.
func (s Shard) String() string {
	if s.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Dir is the shard's directory inside its run's results directory,
// "shard-K-of-N" ("" for the whole run).
func (s Shard) Dir() string {
	if s.IsZero() {
		return ""
	}
	return fmt.Sprintf("shard-%d-of-%d", s.Index, s.Count)
}

// Owns reports whether request sequence number seq of the named scenario
// is this shard's: seq belongs to shard (seq + r) mod Count, where r is
// the FNV-1a hash of the name mod Count. The rotation by name spreads the
// scenarios' remainders over the shards (a scenario of 10 requests on 3
// shards gives one of them 4, not always shard 0), without depending on
// the order of the scenarios. The whole run owns every seq.
func (s Shard) Owns(scenario string, seq int64) bool {
	if s.Count <= 1 {
		return true
	}
	return (uint64(seq)%uint64(s.Count)+s.rotation(scenario))%uint64(s.Count) == uint64(s.Index)
}

// Share is how many of sequence numbers 0 to count-1 of the named
// scenario this shard owns (count itself for the whole run).
func (s Shard) Share(scenario string, count int) int {
	if s.Count <= 1 {
		return count
	}
	n := uint64(s.Count)
	first := (uint64(s.Index) + n - s.rotation(scenario)) % n
	if int64(first) >= int64(count) {
		return 0
	}
	return int((uint64(count)-1-first)/n) + 1
}

func (s Shard) rotation(scenario string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(scenario))
	return h.Sum64() % uint64(s.Count)
}

// Round is the soak round of a scenario that this shard's k-th round of it
// is: k*Count + Index (k for the whole run). A soak's round r runs with
// the scenario's seed + r.
func (s Shard) Round(k int) int {
	if s.Count <= 1 {
		return k
	}
	return k*s.Count + s.Index
}

// Fingerprint names a set of planned scenarios as compiled (names, seeds,
// expectations, faults and the full compiled specs, in order) by a short
// hash: the shards of one run carry the same one, so a merge can tell the
// shards of one run from shards run with other scenarios, seeds, counts
// or flags.
func Fingerprint(ps []PlannedScenario) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range ps {
		b, _ := json.Marshal(struct { // plain data: it always marshals
			Name        string          `json:"name"`
			Seed        int64           `json:"seed"`
			Expectation Expectation     `json:"expectation"`
			Layout      string          `json:"layout"`
			Faults      string          `json:"faults"`
			Spec        json.RawMessage `json:"spec,omitempty"`
		}{p.Name, p.Seed, p.Expectation, p.Layout, p.Faults, p.Spec})
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
