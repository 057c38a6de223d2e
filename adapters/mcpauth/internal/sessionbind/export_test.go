package sessionbind

// Len returns the number of sessions the store holds. Exported only for
// the tests of package sessionbind_test.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// UserLen returns the number of sessions the store holds for user.
// Exported only for the tests of package sessionbind_test.
func (s *Store) UserLen(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[user]; u != nil {
		return u.n
	}
	return 0
}
