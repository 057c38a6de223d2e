package middleware

import (
	"errors"
	"fmt"
	"log/slog"
)

// ValidateScopes checks scopes that a route, method or tool will require
// (passed to [Verifier.Authenticate], [Verifier.CheckScopes] or
// [Verifier.ErrorResponse]): each must be an RFC 6749 §3.3 scope-token and
// not offline_access, the rule [Verifier.RequireScopes] and Config.Scopes
// follow. It returns nil, or every problem joined in one error, which it
// also logs at Error level on Config.Logger.
//
// Framework adapters call it once, when a route is declared, and refuse
// every request of a route with an invalid requirement (fail closed), as
// [Verifier.RequireScopes] does: an invalid scope would otherwise produce a
// requirement no token can meet and a challenge a client cannot parse.
func (v *Verifier) ValidateScopes(scopes ...string) error {
	var errs []error
	for _, s := range scopes {
		if err := checkScopeToken(s); err != nil {
			errs = append(errs, fmt.Errorf("scope %q: %w", s, err))
		}
	}
	if errs == nil {
		return nil
	}
	err := fmt.Errorf("audguard: invalid scope requirement: %w", errors.Join(errs...))
	v.cfg.logger.Error("audguard: invalid scope requirement; refusing every request", slog.Any("error", err))
	return err
}
