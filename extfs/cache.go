package extfs

import "sync"

// blockCache keeps recently read metadata blocks (inode tables, directory,
// extent index and indirect blocks): a walk reads the same inode-table
// block for sixteen inodes in a row. FIFO eviction: cheap, and good enough
// for the access patterns here.
type blockCache struct {
	mu   sync.Mutex
	m    map[uint64][]byte
	ring []uint64
	next int
}

func (c *blockCache) init(n int) {
	c.m = make(map[uint64][]byte) // grows as blocks come: a short read touches a few
	c.ring = make([]uint64, 0, n)
}

func (c *blockCache) get(n uint64) []byte {
	c.mu.Lock()
	b := c.m[n]
	c.mu.Unlock()
	return b
}

func (c *blockCache) put(n uint64, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[n]; ok {
		return
	}
	if len(c.ring) < cap(c.ring) {
		c.ring = append(c.ring, n)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = n
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[n] = b
}

// dirCache keeps parsed directories by inode number, up to a total number
// of entries; when full it starts over (directories are re-read on need).
type dirCache struct {
	mu    sync.Mutex
	m     map[uint32]*dirList
	total int
	max   int
}

func (c *dirCache) init(max int) {
	c.m = map[uint32]*dirList{}
	c.max = max
}

func (c *dirCache) get(ino uint32) *dirList {
	c.mu.Lock()
	d := c.m[ino]
	c.mu.Unlock()
	return d
}

func (c *dirCache) put(ino uint32, d *dirList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[ino]; ok {
		return
	}
	if len(d.ents) > c.max {
		return
	}
	if c.total+len(d.ents) > c.max {
		clear(c.m)
		c.total = 0
	}
	c.m[ino] = d
	c.total += len(d.ents)
}
