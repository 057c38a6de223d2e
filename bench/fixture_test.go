package bench

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
)

// The resource every measured library protects, and another audience the
// tokens also name (the "aud" array holds both).
const (
	resource = "https://mcp.example.com/mcp"
	otherAud = "https://calendar.example.com/api"
	leeway   = 30 * time.Second
)

// algs are the measured algorithms; the JWKS also holds a PS256 key so that
// it has four keys and every lookup is by kid among several.
var algs = []string{"RS256", "ES256", "EdDSA"}

// fixture is shared by every test and benchmark of one process: one issuer
// (httptest server) publishing a JWKS of 4 keys, and per algorithm a valid
// token, a wrong-audience token and a bad-signature token.
type fixture struct {
	iss     *audtest.Issuer
	jwksURL string
	jwks    []byte // the JWKS document as served
	tokens  map[string]tokenSet
}

type tokenSet struct {
	valid, wrongAud, badSig string
	kid                     string
}

var fx *fixture

func TestMain(m *testing.M) {
	var err error
	fx, err = newFixture()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench fixture:", err)
		os.Exit(1)
	}
	code := m.Run()
	fx.iss.Close()
	os.Exit(code)
}

func newFixture() (*fixture, error) {
	iss, err := audtest.Start(audtest.Options{
		Algorithms:    []string{"RS256", "ES256", "EdDSA", "PS256"},
		TokenLifetime: 2 * time.Hour,
	})
	if err != nil {
		return nil, err
	}
	f := &fixture{iss: iss, jwksURL: iss.JWKSURL(), tokens: map[string]tokenSet{}}
	res, err := http.Get(f.jwksURL)
	if err != nil {
		return nil, err
	}
	f.jwks, err = io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	for n, alg := range algs {
		kid := fmt.Sprintf("key-%d-%s", n+1, strings.ToLower(alg))
		mint := func(aud []string, tamper bool) (string, error) {
			c := iss.Claims(resource, "files:read", "files:write", "calendar:read")
			c["aud"] = aud
			return iss.Sign(audtest.Token{Claims: c, KeyID: kid, TamperSignature: tamper})
		}
		var ts tokenSet
		ts.kid = kid
		if ts.valid, err = mint([]string{resource, otherAud}, false); err != nil {
			return nil, err
		}
		if ts.wrongAud, err = mint([]string{"https://mcp.example.com/other", otherAud}, false); err != nil {
			return nil, err
		}
		if ts.badSig, err = mint([]string{resource, otherAud}, true); err != nil {
			return nil, err
		}
		f.tokens[alg] = ts
	}
	return f, nil
}

// splitToken returns the signing input and the decoded signature.
func splitToken(tok string) (input, sig []byte) {
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		panic(err)
	}
	return []byte(tok[:i]), sig
}

// subject is one library configured to protect resource for the issuer of
// the fixture. prepare returns an operation that verifies tok once and
// reports a refusal as an error; the operation is what a benchmark times.
// An operation may be called again and again, but only from one goroutine.
type subject struct {
	impl    string
	prepare func(alg, tok string) func() error
	close   func()
}

// okHandler is the protected handler behind every middleware.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
})

// serveOnce returns an operation that sends one prepared request with tok
// through h into a fresh httptest recorder and expects 204.
func serveOnce(h http.Handler, tok string) func() error {
	req := httptest.NewRequest(http.MethodGet, resource, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return func() error {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			return fmt.Errorf("status %d", rec.Code)
		}
		return nil
	}
}

// assertSubject checks that s accepts the valid token and refuses the
// wrong-audience and bad-signature tokens for alg, so that nothing is
// measured misconfigured. The floor checks signatures only, so it is held
// to the bad-signature token alone.
func assertSubject(tb testing.TB, s subject, alg string) {
	tb.Helper()
	ts := fx.tokens[alg]
	if err := s.prepare(alg, ts.valid)(); err != nil {
		tb.Fatalf("%s/%s: valid token refused: %v", s.impl, alg, err)
	}
	if s.impl != implFloor && s.prepare(alg, ts.wrongAud)() == nil {
		tb.Fatalf("%s/%s: wrong-audience token accepted", s.impl, alg)
	}
	if s.prepare(alg, ts.badSig)() == nil {
		tb.Fatalf("%s/%s: bad-signature token accepted", s.impl, alg)
	}
}
