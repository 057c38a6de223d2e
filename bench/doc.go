// Package bench measures audguard side by side with the raw signature check
// it cannot avoid (the floor) and with peer libraries, over the same tokens
// and the same JWKS served by httptest. Run `make bench` at the repository
// root; results and method are in RESULTS.md.
//
// The package holds only tests: Test functions assert that every measured
// configuration accepts the valid token and refuses a wrong-audience and a
// bad-signature token (they run under `make test`); Benchmark functions run
// only under `make bench`.
package bench
