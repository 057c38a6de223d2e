package tokensource

// Waiters returns how many callers wait for the token request in flight
// for r (0 when none is in flight).
func (c *Client) Waiters(r Request) int {
	p, err := c.prepare(r)
	if err != nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[p.key]; e != nil && e.call != nil {
		return e.call.waiters
	}
	return 0
}

// CacheLen returns the number of cache entries.
func (c *Client) CacheLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// WaitBackground waits for the background refreshes in flight.
func (c *Client) WaitBackground() { c.wg.Wait() }
