package main

import (
	"sync"
	"time"
)

// refusedPause is how long a replica that refused a connection is passed over.
const refusedPause = 5 * time.Second

// balancer spreads a job's calls over its replicas in turn, passing over for a while a replica
// that refused a connection (killed, restarting) while the others serve.
type balancer struct {
	mu      sync.Mutex
	next    map[string]uint64    // per job version: the turn of the next call
	refused map[string]time.Time // per address: until when it is passed over
	now     func() time.Time
}

func newBalancer() *balancer {
	return &balancer{next: map[string]uint64{}, refused: map[string]time.Time{}, now: time.Now}
}

// addresses are where a decided call may go: every replica, or the one address of a job without them.
func (d *Decision) addresses() []string {
	if len(d.Replicas) > 0 {
		return d.Replicas
	}
	if d.InternalName == "" {
		return nil
	}
	return []string{d.InternalName}
}

// pick returns the next replica of the job that is not passed over, skipping `except`; when every
// one is, the next in turn all the same (better a refused call than none tried).
func (b *balancer) pick(job string, addresses []string, except string) string {
	if len(addresses) == 0 {
		return ""
	}
	if len(addresses) == 1 {
		return addresses[0]
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.next) > maxCacheEntries {
		clear(b.next)
	}
	turn := b.next[job]
	b.next[job] = turn + 1
	now := b.now()
	fallback := ""
	for i := range addresses {
		address := addresses[(turn+uint64(i))%uint64(len(addresses))]
		if address == except {
			continue
		}
		if fallback == "" {
			fallback = address
		}
		if until, ok := b.refused[address]; !ok || now.After(until) {
			delete(b.refused, address)
			return address
		}
	}
	return fallback
}

// refusedBy passes over an address for a while.
func (b *balancer) refusedBy(address string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.refused) > maxCacheEntries {
		clear(b.refused)
	}
	b.refused[address] = b.now().Add(refusedPause)
}
