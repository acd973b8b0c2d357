package results

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// WaitShards waits until the sharded run whose directory is dir has
// finished: its shards' directories exist for every index their plans'
// shard count names, and each holds its summary (a results directory of
// its own, a whole run or one shard, has finished once its summary is
// there, and a file at once; a dir that does not exist yet is waited
// for). It looks every poll
// (0: 2s) until then or until ctx ends, and returns nil, or ctx's error
// when the wait ran out. A merge after a wait that ran out is still
// judged as always: the shards missing or unfinished fail its verdict.
//
// A merge step started with the shards (a second Kubernetes Job on the
// same volume) waits with it instead of needing something to start it
// when the shards are done.
func WaitShards(ctx context.Context, dir string, poll time.Duration) error {
	if poll <= 0 {
		poll = 2 * time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if finished(dir) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func finished(dir string) bool {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return true // a file: nothing is running there
	}
	if isResultsDir(dir) {
		_, err := os.Stat(filepath.Join(dir, SummaryFile))
		return err == nil
	}
	return shardsDone(dir)
}

// shardsDone says whether dir holds every shard of one count, each with
// its summary. Plans that disagree (two counts) count as done: waiting
// cannot mend them, and the merge names them.
func shardsDone(dir string) bool {
	subs, err := resultDirs(dir)
	if err != nil || len(subs) == 0 {
		return false
	}
	count := 0
	done := map[int]bool{}
	for _, sub := range subs {
		plan, err := ReadPlan(sub)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return false // a shard still starting: its plan comes first
			}
			return true
		}
		if plan.Shard.IsZero() || (count != 0 && plan.Shard.Count != count) {
			return true
		}
		count = plan.Shard.Count
		if _, err := os.Stat(filepath.Join(sub, SummaryFile)); err == nil {
			done[plan.Shard.Index] = true
		}
	}
	return len(done) == count
}
