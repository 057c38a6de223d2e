package middleware

import (
	"context"
	"log/slog"

	"github.com/audguard/audguard/jwks"
)

// EventKind tells what an [Event] reports.
type EventKind int

// Event kinds.
const (
	// EventAccept: a token was accepted (and, for Authenticate and the
	// handlers, the scopes that layer requires sufficed). One request
	// passes through several layers when they are stacked: Handler then
	// RequireScopes reports accept, then reject with insufficient_scope
	// when the route needs a scope the token lacks.
	EventAccept EventKind = iota + 1
	// EventReject: a request or token was refused; Reason says why.
	// Scope refusals by RequireScopes and CheckScopes are reported too.
	EventReject
	// EventKeyFetch: a remote key set was fetched or failed to be.
	EventKeyFetch
)

// String returns "accept", "reject" or "key_fetch".
func (k EventKind) String() string {
	switch k {
	case EventAccept:
		return "accept"
	case EventReject:
		return "reject"
	case EventKeyFetch:
		return "key_fetch"
	}
	return "unknown"
}

// Event is passed to Config.Observer. It never carries the token.
type Event struct {
	Kind EventKind
	// Issuer is the configured issuer of an accepted token or of a key
	// fetch; it is empty for rejections (an unverified "iss" is not
	// reported).
	Issuer string
	// Reason is [Reason](Err) for rejections.
	Reason string
	// Err is the rejection or fetch error, for logs. Never send it to a
	// client.
	Err error
	// Fetch details an EventKeyFetch.
	Fetch *jwks.FetchEvent
}

// report logs and observes one decision.
func (v *Verifier) report(ctx context.Context, c *Claims, err error) {
	if err == nil {
		if v.cfg.observer != nil {
			v.cfg.observer(Event{Kind: EventAccept, Issuer: c.Issuer})
		}
		return
	}
	reason := Reason(err)
	v.cfg.logger.LogAttrs(ctx, slog.LevelDebug, "audguard: request rejected", slog.String("reason", reason))
	if v.cfg.observer != nil {
		v.cfg.observer(Event{Kind: EventReject, Reason: reason, Err: err})
	}
}
