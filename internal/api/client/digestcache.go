package client

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"
)

// digestCache remembers the digests of files uploaded from this machine,
// as git's index does: an entry holds while the file's size, modification
// time, change time and inode are the ones recorded. An entry recorded
// within racyWindow of the file's last change is "racy", as in git: a
// second write in the same clock tick would leave those unchanged over
// other bytes, so the file is hashed again before its digest is trusted.
type digestCache struct {
	path    string
	entries map[string]cacheEntry
	dirty   bool
	racy    time.Duration // racyWindow; tests shorten it
}

type cacheEntry struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Mtime  int64  `json:"mtime_ns"`
	Ctime  int64  `json:"ctime_ns"`
	Inode  uint64 `json:"inode"`
	// Recorded is when the entry was written, in ns.
	Recorded int64 `json:"recorded_ns"`
}

// What lookup found.
type cacheState int

const (
	cacheMiss cacheState = iota // never uploaded from here, or changed since
	cacheRacy                   // same metadata, but too close to a change to trust
	cacheHit
)

const (
	racyWindow = 2 * time.Second
	maxEntries = 4096
)

// openDigestCache reads dir's cache; a missing or unreadable one is empty
// (the cache only saves reads, it never decides what is sent).
func openDigestCache(dir string) *digestCache {
	c := &digestCache{entries: map[string]cacheEntry{}, racy: racyWindow}
	if dir == "" {
		return c
	}
	c.path = filepath.Join(dir, "upload-digests.json")
	if b, err := os.ReadFile(c.path); err == nil {
		_ = json.Unmarshal(b, &c.entries)
	}
	return c
}

func statEntry(path string) (cacheEntry, bool) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return cacheEntry{}, false
	}
	e := cacheEntry{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	e.Ctime, e.Inode = changeTime(fi)
	return e, true
}

func (c *digestCache) lookup(path string) (cacheEntry, cacheState) {
	if c.path == "" {
		return cacheEntry{}, cacheMiss
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return cacheEntry{}, cacheMiss
	}
	e, ok := c.entries[abs]
	if !ok {
		return cacheEntry{}, cacheMiss
	}
	now, ok := statEntry(abs)
	if !ok || now.Size != e.Size || now.Mtime != e.Mtime || now.Ctime != e.Ctime || now.Inode != e.Inode {
		return cacheEntry{}, cacheMiss
	}
	if e.Recorded-max(e.Mtime, e.Ctime) < int64(c.racy) {
		return e, cacheRacy
	}
	return e, cacheHit
}

// store records path's digest as of now (hashed just before).
func (c *digestCache) store(path, digest string) {
	if c.path == "" {
		return
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return
	}
	e, ok := statEntry(abs)
	if !ok {
		return
	}
	e.Recorded = time.Now().UnixNano()
	if len(c.entries) >= maxEntries {
		clear(c.entries)
	}
	e.Digest = digest
	c.entries[abs] = e
	c.dirty = true
}

func (c *digestCache) save() {
	if c.path == "" || !c.dirty {
		return
	}
	b, err := json.Marshal(c.entries)
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return
	}
	tmp := c.path + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, c.path)
	}
}
