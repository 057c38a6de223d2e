package middleware

// CacheLen exposes the number of cached verifications to tests.
func CacheLen(v *Verifier) int {
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}
