// Package testlog holds what tests use to read a running server's output.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that the server's goroutines may write to while
// the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
