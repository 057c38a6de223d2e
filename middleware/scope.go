package middleware

import "strings"

// HierarchicalScopes returns a Config.ScopeCovers rule for scopes built of
// segments joined by sep (MCP 2026-07-28 §11.1.2): a granted scope covers a
// required one when it is a whole-segment prefix of it ("files" covers
// "files:read" and "files:read:own" with sep ":"), or when it ends in
// sep+"*" and the rest is such a prefix ("files:*" covers "files:read").
// "files" does not cover "filesystem", and nothing is case-folded.
func HierarchicalScopes(sep string) func(granted, required string) bool {
	return func(granted, required string) bool {
		if sep == "" || granted == "" {
			return false
		}
		if strings.HasSuffix(granted, sep+"*") {
			granted = strings.TrimSuffix(granted, "*") // keep the separator
			return len(required) > len(granted) && strings.HasPrefix(required, granted)
		}
		return len(required) > len(granted)+len(sep) &&
			strings.HasPrefix(required, granted) &&
			strings.HasPrefix(required[len(granted):], sep)
	}
}
