package middleware

import "context"

// CacheLen exposes the number of cached verifications to tests.
func CacheLen(v *Verifier) int {
	if v.cache == nil {
		return 0
	}
	return v.cache.len()
}

// VerifyJWS runs only the signature layer of the pipeline on a compact
// JWS: shape (step 2), header rules with v's allow-list and typ policy
// (step 3), key lookup in keys with the key/alg binding (step 5) and the
// signature (step 6). The payload is not read: Wycheproof payloads are not
// JWT claims sets. The errors are the pipeline's own.
func VerifyJWS(v *Verifier, ctx context.Context, keys KeySource, token string) error {
	var t parsedToken
	if err := t.split(token, v.cfg.maxToken); err != nil {
		return err
	}
	if err := t.scanHeader(); err != nil {
		return err
	}
	if err := v.checkHeader(&t); err != nil {
		return err
	}
	key, err := keyFor(ctx, keys, &t)
	if err != nil {
		return err
	}
	return verifySignature(key, &t)
}
