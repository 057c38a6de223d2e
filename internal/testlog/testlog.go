// Package testlog holds test helpers shared by audguard's packages.
package testlog

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects log (or process) output written from any goroutine and
// returns it as a string; tests search it for what must, or must never,
// appear.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Count returns how many times sub was written (as strings.Count does).
func (s *Buffer) Count(sub string) int { return strings.Count(s.String(), sub) }
