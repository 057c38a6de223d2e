package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v3"
	a0jwks "github.com/auth0/go-jwt-middleware/v3/jwks"
	a0validator "github.com/auth0/go-jwt-middleware/v3/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	gjwt "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	xjwt "github.com/lestrrat-go/jwx/v3/jwt"
	mcpauth "github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/audguard/audguard/middleware"
)

// requiredScope is required by every measured HTTP middleware.
const requiredScope = "files:read"

// Implementation names, in the order of the tables (the floor first, so
// that benchstat compares every column with it).
const (
	implFloor      = "floor"
	implVerify     = "audguard-verify"
	implHandler    = "audguard-handler"
	implVerifyHit  = "audguard-verify-cachehit"
	implHandlerHit = "audguard-handler-cachehit"
	implKeyfunc    = "keyfunc-golangjwt"
	implOIDC       = "go-oidc"
	implJWX        = "jwx-jwt.Parse"
	implMCP        = "mcp-go-sdk+jwx"
	implAuth0      = "auth0-middleware"
)

var (
	subjectsOnce sync.Once
	subjects     []subject
	subjectsErr  error
)

// allSubjects builds every subject once per process (JWKS fetches happen
// here, outside any timed region).
func allSubjects() ([]subject, error) {
	subjectsOnce.Do(func() {
		builders := []func() (subject, error){
			floorSubject,
			func() (subject, error) { return audguardSubject(implVerify, false, false) },
			func() (subject, error) { return audguardSubject(implHandler, true, false) },
			func() (subject, error) { return audguardSubject(implVerifyHit, false, true) },
			func() (subject, error) { return audguardSubject(implHandlerHit, true, true) },
			keyfuncSubject,
			oidcSubject,
			jwxSubject,
			mcpSubject,
			auth0Subject,
		}
		for _, build := range builders {
			s, err := build()
			if err != nil {
				subjectsErr = err
				return
			}
			subjects = append(subjects, s)
		}
	})
	return subjects, subjectsErr
}

// --- the floor -------------------------------------------------------------

// floorSubject verifies the signature alone with the standard library, over
// a token split and base64-decoded in advance (ECDSA's R||S is also
// re-encoded as ASN.1 in advance): hashing plus the public-key operation.
// It checks no claim, so it is asserted on the bad-signature token only.
func floorSubject() (subject, error) {
	return subject{
		impl: implFloor,
		prepare: func(alg, tok string) func() error {
			pub, err := fx.iss.PublicKey(fx.tokens[alg].kid)
			if err != nil {
				panic(err)
			}
			input, sig := splitToken(tok)
			bad := errors.New("signature does not verify")
			switch k := pub.(type) {
			case *rsa.PublicKey:
				return func() error {
					d := sha256.Sum256(input)
					return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig)
				}
			case *ecdsa.PublicKey:
				der := asn1Signature(sig)
				return func() error {
					d := sha256.Sum256(input)
					if !ecdsa.VerifyASN1(k, d[:], der) {
						return bad
					}
					return nil
				}
			case ed25519.PublicKey:
				return func() error {
					if !ed25519.Verify(k, input, sig) {
						return bad
					}
					return nil
				}
			}
			panic(fmt.Sprintf("floor: key type %T", pub))
		},
	}, nil
}

func asn1Signature(rs []byte) []byte {
	der, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(rs[:len(rs)/2]),
		new(big.Int).SetBytes(rs[len(rs)/2:]),
	})
	if err != nil {
		panic(err)
	}
	return der
}

// --- audguard --------------------------------------------------------------

// audguardVerifier returns a Verifier for the fixture's issuer whose keys
// come from the JWKS served by httptest through jwks.Remote (audguard's own
// remote-JWKS cache), fetched once here.
func audguardVerifier(cache bool) (*middleware.Verifier, error) {
	cfg := middleware.Config{
		Resource:          resource,
		Issuers:           []middleware.Issuer{{URL: fx.iss.URL(), JWKSURI: fx.jwksURL}},
		AllowHTTPLoopback: true,
		Algorithms:        algs,
		Typ:               middleware.TypStrict,
		Leeway:            leeway,
		Scopes:            []string{requiredScope},
		CacheSize:         middleware.NoCache,
	}
	if cache {
		cfg.CacheSize = 0 // default size
	}
	v, err := middleware.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := v.Refresh(context.Background()); err != nil {
		_ = v.Close()
		return nil, err
	}
	return v, nil
}

func audguardSubject(impl string, handler, cache bool) (subject, error) {
	v, err := audguardVerifier(cache)
	if err != nil {
		return subject{}, err
	}
	s := subject{impl: impl, close: func() { _ = v.Close() }}
	if handler {
		h := v.Handler(okHandler)
		s.prepare = func(_, tok string) func() error { return serveOnce(h, tok) }
		return s, nil
	}
	ctx := context.Background()
	s.prepare = func(_, tok string) func() error {
		return func() error {
			_, err := v.Verify(ctx, tok)
			return err
		}
	}
	return s, nil
}

// --- keyfunc v3 + golang-jwt v5 -------------------------------------------

type gjwtClaims struct {
	gjwt.RegisteredClaims
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
}

func keyfuncSubject() (subject, error) {
	ctx, cancel := context.WithCancel(context.Background())
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{fx.jwksURL})
	if err != nil {
		cancel()
		return subject{}, err
	}
	p := gjwt.NewParser(
		gjwt.WithValidMethods(algs),
		gjwt.WithAudience(resource),
		gjwt.WithIssuer(fx.iss.URL()),
		gjwt.WithExpirationRequired(),
		gjwt.WithIssuedAt(),
		gjwt.WithLeeway(leeway),
	)
	return subject{
		impl:  implKeyfunc,
		close: cancel,
		prepare: func(_, tok string) func() error {
			return func() error {
				var c gjwtClaims
				_, err := p.ParseWithClaims(tok, &c, kf.Keyfunc)
				return err
			}
		},
	}, nil
}

// --- coreos/go-oidc v3 -----------------------------------------------------

func oidcSubject() (subject, error) {
	ctx := context.Background()
	ks := oidc.NewRemoteKeySet(ctx, fx.jwksURL)
	v := oidc.NewVerifier(fx.iss.URL(), ks, &oidc.Config{ClientID: resource, SupportedSigningAlgs: algs})
	return subject{
		impl: implOIDC,
		prepare: func(_, tok string) func() error {
			return func() error {
				t, err := v.Verify(ctx, tok)
				if err != nil {
					return err
				}
				var c struct {
					Scope string `json:"scope"`
				}
				return t.Claims(&c)
			}
		},
	}, nil
}

// --- jwx v3 jwt.Parse ------------------------------------------------------

// jwxParser returns a function that verifies a token with jwx/v3 jwt.Parse
// against a jwk.Cache of the fixture's JWKS (jwx's own remote-JWKS
// machinery).
func jwxParser() (func(tok string) (xjwt.Token, error), func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	c, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if err := c.Register(ctx, fx.jwksURL); err != nil {
		cancel()
		return nil, nil, err
	}
	set, err := c.CachedSet(fx.jwksURL)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	opts := []xjwt.ParseOption{
		xjwt.WithKeySet(set),
		xjwt.WithValidate(true),
		xjwt.WithAudience(resource),
		xjwt.WithIssuer(fx.iss.URL()),
		xjwt.WithAcceptableSkew(leeway),
	}
	parse := func(tok string) (xjwt.Token, error) { return xjwt.ParseString(tok, opts...) }
	return parse, cancel, nil
}

func jwxSubject() (subject, error) {
	parse, cancel, err := jwxParser()
	if err != nil {
		return subject{}, err
	}
	return subject{
		impl:  implJWX,
		close: cancel,
		prepare: func(_, tok string) func() error {
			return func() error {
				t, err := parse(tok)
				if err != nil {
					return err
				}
				var scope string
				_ = t.Get("scope", &scope)
				return nil
			}
		},
	}, nil
}

// --- MCP go-sdk auth.RequireBearerToken with a jwx verifier ----------------

func mcpSubject() (subject, error) {
	parse, cancel, err := jwxParser()
	if err != nil {
		return subject{}, err
	}
	verifier := func(_ context.Context, tok string, _ *http.Request) (*mcpauth.TokenInfo, error) {
		t, err := parse(tok)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", mcpauth.ErrInvalidToken, err)
		}
		var scope string
		_ = t.Get("scope", &scope)
		exp, _ := t.Expiration()
		sub, _ := t.Subject()
		return &mcpauth.TokenInfo{Scopes: strings.Fields(scope), Expiration: exp, UserID: sub}, nil
	}
	h := mcpauth.RequireBearerToken(verifier, &mcpauth.RequireBearerTokenOptions{
		ResourceMetadataURL: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
		Scopes:              []string{requiredScope},
		ClockSkew:           leeway,
	})(okHandler)
	return subject{
		impl:    implMCP,
		close:   cancel,
		prepare: func(_, tok string) func() error { return serveOnce(h, tok) },
	}, nil
}

// --- auth0 go-jwt-middleware v3 -------------------------------------------

type auth0Claims struct {
	Scope string `json:"scope"`
}

func (c *auth0Claims) Validate(context.Context) error {
	for _, s := range strings.Fields(c.Scope) {
		if s == requiredScope {
			return nil
		}
	}
	return errors.New("insufficient scope")
}

func auth0Subject() (subject, error) {
	issURL, err := url.Parse(fx.iss.URL())
	if err != nil {
		return subject{}, err
	}
	jwksURL, err := url.Parse(fx.jwksURL)
	if err != nil {
		return subject{}, err
	}
	provider, err := a0jwks.NewCachingProvider(
		a0jwks.WithIssuerURL(issURL),
		a0jwks.WithCustomJWKSURI(jwksURL),
		a0jwks.WithCacheTTL(time.Hour),
	)
	if err != nil {
		return subject{}, err
	}
	val, err := a0validator.New(
		a0validator.WithKeyFunc(provider.KeyFunc),
		a0validator.WithAlgorithms([]a0validator.SignatureAlgorithm{a0validator.RS256, a0validator.ES256, a0validator.EdDSA}),
		a0validator.WithIssuer(fx.iss.URL()),
		a0validator.WithAudience(resource),
		a0validator.WithAllowedClockSkew(leeway),
		a0validator.WithCustomClaims(func() *auth0Claims { return &auth0Claims{} }),
	)
	if err != nil {
		return subject{}, err
	}
	mw, err := jwtmiddleware.New(jwtmiddleware.WithValidator(val))
	if err != nil {
		return subject{}, err
	}
	h := mw.CheckJWT(okHandler)
	return subject{
		impl:    implAuth0,
		prepare: func(_, tok string) func() error { return serveOnce(h, tok) },
	}, nil
}
