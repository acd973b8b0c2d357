package imagesvc

import "sync"

// cache keeps finished built-in transforms, bounded in bytes, evicting the oldest
// insert first. Keys are canonical (parsed chain and output), so equivalent
// spellings of a request share one entry.
type cache struct {
	mu    sync.Mutex
	limit int64
	used  int64
	m     map[string]*result
	fifo  []string
}

func newCache(limit int64) *cache {
	return &cache{limit: limit, m: make(map[string]*result)}
}

func (c *cache) get(key string) *result {
	if c.limit <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *cache) put(key string, r *result) {
	size := int64(len(r.body))
	if c.limit <= 0 || size > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return
	}
	for c.used+size > c.limit && len(c.fifo) > 0 {
		old := c.fifo[0]
		c.fifo = c.fifo[1:]
		c.used -= int64(len(c.m[old].body))
		delete(c.m, old)
	}
	c.m[key] = r
	c.fifo = append(c.fifo, key)
	c.used += size
}

// bytes is the size of the bodies held.
func (c *cache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}
