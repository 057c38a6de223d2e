// Package route serves an MCP endpoint at the path of its canonical
// resource URI and the RFC 9728 metadata document next to it.
package route
