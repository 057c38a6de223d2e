package jwks_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/audguard/audguard/audtest"
	"github.com/audguard/audguard/jwks"
	"github.com/stretchr/testify/require"
)

// RFC 8414 path insertion: an issuer with a path is discovered at
// /.well-known/oauth-authorization-server/<path>, first try.
func TestDiscoveryRFC8414PathInsertion(t *testing.T) {
	h := newHarness(t, audtest.Options{Path: "/tenant-a"}, nil)
	require.True(t, strings.HasSuffix(h.iss.URL(), "/tenant-a"))
	h.warm()
	require.Equal(t, 1, h.iss.DiscoveryFetches())
	ev := h.ev.list()
	require.Equal(t, h.iss.ServerURL()+"/.well-known/oauth-authorization-server/tenant-a", ev[0].URL)
	require.True(t, ev[0].Discovery)
	require.NoError(t, ev[0].Err)
	require.Equal(t, h.iss.JWKSURL(), ev[1].URL)
}

// When RFC 8414 metadata is missing, OpenID Connect discovery (suffix
// appended to the issuer) is used.
func TestDiscoveryFallsBackToOIDC(t *testing.T) {
	h := newHarness(t, audtest.Options{Path: "/tenant-b"}, nil)
	h.iss.SetDiscoveryHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/oauth-authorization-server") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(h.iss.Metadata())
	}))
	h.warm()
	require.Equal(t, 2, h.iss.DiscoveryFetches())
	ev := h.ev.list()
	require.ErrorContains(t, ev[0].Err, "status 404")
	require.Equal(t, h.iss.URL()+"/.well-known/openid-configuration", ev[1].URL)
	require.NoError(t, ev[1].Err)
	require.Equal(t, 0, h.logs.Count("level=WARN"), "a 404 on the first location is not worth a warning when the second works")

	// The discovered jwks_uri is cached: a refresh fetches only the JWKS.
	require.NoError(t, h.r.Refresh(t.Context()))
	require.Equal(t, 2, h.iss.DiscoveryFetches())
	require.Equal(t, 2, h.iss.JWKSFetches())
}

// The document's issuer must equal the configured one byte for byte;
// otherwise nothing in it is used, and discovery is not retried within the
// cooldown.
func TestDiscoveryIssuerMismatchRefused(t *testing.T) {
	for _, variant := range []struct {
		name string
		iss  func(real string) string
	}{
		{name: "trailing slash", iss: func(s string) string { return s + "/" }},
		{name: "upper-case scheme", iss: func(s string) string { return "HTTP" + strings.TrimPrefix(s, "http") }},
		{name: "localhost for 127.0.0.1", iss: func(s string) string { return strings.Replace(s, "127.0.0.1", "localhost", 1) }},
		{name: "other issuer", iss: func(string) string { return "https://attacker.example" }},
		{name: "prefix", iss: func(s string) string { return s + "/tenant" }},
	} {
		t.Run(variant.name, func(t *testing.T) {
			h := newHarness(t, audtest.Options{}, nil)
			h.iss.SetDiscoveryIssuer(variant.iss(h.iss.URL()))
			kid := h.iss.CurrentKeyID()

			err := h.r.Refresh(t.Context())
			require.ErrorIs(t, err, jwks.ErrDiscovery)
			require.ErrorIs(t, err, jwks.ErrIssuerMismatch)
			require.Equal(t, 2, h.iss.DiscoveryFetches(), "both locations tried")
			require.Zero(t, h.iss.JWKSFetches(), "the refused documents' jwks_uri is never fetched")
			_, err = h.r.Key(t.Context(), kid, "ES256")
			require.ErrorIs(t, err, jwks.ErrUnavailable)
			require.Equal(t, 1, h.logs.Count(`msg="jwks: discovery failed"`))

			// Within the cooldown: no new discovery, not even by Refresh.
			require.ErrorIs(t, h.r.Refresh(t.Context()), jwks.ErrIssuerMismatch)
			require.Equal(t, 2, h.iss.DiscoveryFetches())

			// Fixed, and the cooldown over: discovery succeeds.
			h.iss.SetDiscoveryIssuer("")
			h.clock.Advance(jwks.DefaultRefreshCooldown)
			_, err = h.r.Key(t.Context(), kid, "ES256")
			require.NoError(t, err)
			require.Equal(t, 3, h.iss.DiscoveryFetches())
			require.Equal(t, 1, h.iss.JWKSFetches())
		})
	}
}

// A mismatching RFC 8414 document is not trusted, but a matching OIDC
// document at the issuer's own location still is.
func TestDiscoveryMismatchOnFirstLocationOnly(t *testing.T) {
	other := audtest.NewIssuer(t, audtest.Options{Algorithms: []string{"ES256"}})
	h := newHarness(t, audtest.Options{}, nil)
	h.iss.SetDiscoveryHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		md := h.iss.Metadata()
		if strings.HasPrefix(r.URL.Path, "/.well-known/oauth-authorization-server") {
			md["issuer"], md["jwks_uri"] = other.URL(), other.JWKSURL()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(md)
	}))
	h.warm()
	require.Zero(t, other.JWKSFetches())
	require.ErrorIs(t, h.ev.list()[0].Err, jwks.ErrIssuerMismatch)
}

func TestDiscoveryDocumentRules(t *testing.T) {
	tests := []struct {
		name string
		doc  func(iss *audtest.Issuer) string
		want string
	}{
		{name: "http jwks_uri off loopback", doc: func(i *audtest.Issuer) string {
			return `{"issuer":"` + i.URL() + `","jwks_uri":"http://as.example.com/jwks"}`
		}, want: "http is allowed only"},
		{name: "jwks_uri missing", doc: func(i *audtest.Issuer) string { return `{"issuer":"` + i.URL() + `"}` }, want: `no "jwks_uri"`},
		{name: "jwks_uri not a string", doc: func(i *audtest.Issuer) string { return `{"issuer":"` + i.URL() + `","jwks_uri":["x"]}` }, want: `"jwks_uri" is not a string`},
		{name: "issuer missing", doc: func(i *audtest.Issuer) string { return `{"jwks_uri":"` + i.JWKSURL() + `"}` }, want: `no "issuer"`},
		{name: "issuer not a string", doc: func(i *audtest.Issuer) string { return `{"issuer":1,"jwks_uri":"` + i.JWKSURL() + `"}` }, want: `"issuer" is not a string`},
		{name: "duplicate issuer member", doc: func(i *audtest.Issuer) string {
			return `{"issuer":"https://attacker.example","issuer":"` + i.URL() + `","jwks_uri":"` + i.JWKSURL() + `"}`
		}, want: "duplicate member"},
		{name: "html", doc: func(*audtest.Issuer) string { return "<html></html>" }, want: "not a usable metadata document"},
		{name: "jwks_uri with userinfo", doc: func(i *audtest.Issuer) string {
			return `{"issuer":"` + i.URL() + `","jwks_uri":"https://u@as.example.com/jwks"}`
		}, want: "userinfo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, audtest.Options{}, nil)
			h.iss.SetDiscoveryHandler(audtest.Body("application/json", []byte(tc.doc(h.iss))))
			err := h.r.Refresh(t.Context())
			require.ErrorIs(t, err, jwks.ErrDiscovery)
			require.ErrorContains(t, err, tc.want)
			require.Zero(t, h.iss.JWKSFetches())
		})
	}
}

// A jwks_uri on another host than the issuer is allowed, with a warning
// (standards-and-attacks E12).
func TestDiscoveryJWKSURIOnAnotherHostWarns(t *testing.T) {
	h := newHarness(t, audtest.Options{}, nil)
	other := strings.Replace(h.iss.JWKSURL(), "127.0.0.1", "localhost", 1)
	h.iss.SetDiscoveryHandler(audtest.Body("application/json", []byte(`{"issuer":"`+h.iss.URL()+`","jwks_uri":"`+other+`"}`)))
	h.warm()
	require.Equal(t, 1, h.logs.Count("jwks_uri is on another host than the issuer"))
	require.Equal(t, other, h.ev.list()[1].URL)
}

// The discovered jwks_uri is re-discovered after MaxTTL; if that fails, the
// previous one stays in use.
func TestDiscoveryRefreshedAfterMaxTTL(t *testing.T) {
	h := newHarness(t, audtest.Options{}, func(c *jwks.RemoteConfig) { c.MaxTTL = time.Hour })
	kid := h.iss.CurrentKeyID()
	h.warm()
	h.clock.Advance(time.Hour)
	h.iss.SetDiscoveryHandler(audtest.Status(http.StatusInternalServerError))
	require.NoError(t, h.r.Refresh(t.Context()))
	require.Equal(t, 3, h.iss.DiscoveryFetches())
	require.Equal(t, 2, h.iss.JWKSFetches())
	require.Equal(t, 1, h.logs.Count("keeping the previously discovered jwks_uri"))
	_, err := h.r.Key(t.Context(), kid, "ES256")
	require.NoError(t, err)
}
