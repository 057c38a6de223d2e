// Package sessionbind remembers which user created each MCP session, so
// that a request carrying a session ID can be refused unless it comes from
// that user (MCP security best practices, "Session Hijacking"). Its
// [Store] is bounded in entries, overall and per user, and forgets idle
// sessions, and starts no goroutine: expired entries are dropped when the
// store is used.
package sessionbind
