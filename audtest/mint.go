package audtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Token describes a token to mint with [Issuer.Sign]. The zero value mints
// a token with the default claims and no audience; start from
// [Issuer.Claims] to mint one for a resource. Every other field exists to
// build one kind of broken token.
type Token struct {
	// Claims is the whole claims set; start from [Issuer.Claims] and
	// change or delete members. Nil mints the default claims (iss, sub,
	// client_id, iat, nbf, exp, jti) with no "aud". Members with a nil
	// value are left out.
	Claims map[string]any
	// Header is merged over the default header (alg of the signing key,
	// kid, typ "at+jwt"). A nil value removes a member ("kid": nil mints a
	// token without kid).
	Header map[string]any
	// RawHeader and RawClaims, when set, are used verbatim as the JSON of
	// the header and claims set (for duplicate members, invalid UTF-8,
	// non-object JSON, ...). Header and Claims are then ignored.
	RawHeader, RawClaims string
	// KeyID selects the signing key (default: the current key).
	KeyID string
	// Alg overrides the "alg" header without changing how the token is
	// signed, unless it is "none" (empty signature) or HMAC is set.
	Alg string
	// HMACSecret signs with HMAC (HS256/HS384/HS512 from Alg, default
	// HS256) using this secret, e.g. the issuer's public key bytes for an
	// algorithm-confusion attack.
	HMACSecret []byte
	// Signer signs with another private key (an attacker's) while the
	// header still names KeyID's kid.
	Signer crypto.Signer
	// TamperSignature flips a bit of the signature.
	TamperSignature bool
	// RawSignature, when set, replaces the encoded signature segment.
	RawSignature *string
}

// Claims returns the default claims of a valid access token for resource
// (as "aud") with the given scopes. Modify the map and pass it in
// [Token].Claims to derive broken tokens.
func (i *Issuer) Claims(resource string, scopes ...string) map[string]any {
	now := i.opts.Now()
	c := map[string]any{
		"iss":       i.issuer,
		"sub":       "user-1",
		"client_id": "audtest-client",
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(i.opts.TokenLifetime).Unix(),
		"jti":       randomID(),
	}
	if resource != "" {
		c["aud"] = resource
	}
	if len(scopes) > 0 {
		c["scope"] = strings.Join(scopes, " ")
	}
	return c
}

// AccessToken mints a valid access token for resource with scopes, signed
// by the current key. It panics only if signing fails, which it cannot
// with the issuer's own keys.
func (i *Issuer) AccessToken(resource string, scopes ...string) string {
	tok, err := i.Sign(Token{Claims: i.Claims(resource, scopes...)})
	if err != nil {
		panic(err)
	}
	return tok
}

// MustSign is [Issuer.Sign] that panics on error, for table tests.
func (i *Issuer) MustSign(t Token) string {
	tok, err := i.Sign(t)
	if err != nil {
		panic(err)
	}
	return tok
}

// Sign mints a compact JWS as described by t.
func (i *Issuer) Sign(t Token) (string, error) {
	k, err := i.key(t.KeyID)
	if err != nil {
		return "", err
	}
	alg := k.alg
	if t.HMACSecret != nil {
		alg = "HS256"
	}
	if t.Alg != "" {
		alg = t.Alg
	}
	hdrJSON := t.RawHeader
	if hdrJSON == "" {
		h := map[string]any{"alg": alg, "kid": k.kid, "typ": "at+jwt"}
		merge(h, t.Header)
		b, err := json.Marshal(h)
		if err != nil {
			return "", err
		}
		hdrJSON = string(b)
	}
	claimsJSON := t.RawClaims
	if claimsJSON == "" {
		c := t.Claims
		if c == nil {
			c = i.Claims("")
		} else {
			c = make(map[string]any, len(t.Claims))
			merge(c, t.Claims)
		}
		b, err := json.Marshal(c)
		if err != nil {
			return "", err
		}
		claimsJSON = string(b)
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(hdrJSON)) + "." + enc.EncodeToString([]byte(claimsJSON))
	if t.RawSignature != nil {
		return input + "." + *t.RawSignature, nil
	}
	var sig []byte
	switch {
	case alg == "none" || strings.EqualFold(alg, "none"):
		return input + ".", nil
	case t.HMACSecret != nil:
		sig = hmacSign(alg, t.HMACSecret, input)
	default:
		signer := k.priv
		if t.Signer != nil {
			signer = t.Signer
		}
		sig, err = signWith(signer, k.alg, []byte(input))
		if err != nil {
			return "", err
		}
	}
	if t.TamperSignature && len(sig) > 0 {
		sig[len(sig)/2] ^= 0x01
	}
	return input + "." + enc.EncodeToString(sig), nil
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

func hmacSign(alg string, secret []byte, input string) []byte {
	h := sha256.New
	switch alg {
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	}
	m := hmac.New(h, secret)
	m.Write([]byte(input))
	return m.Sum(nil)
}

// signWith signs input for alg (the algorithm family of the signer decides
// the encoding; alg picks the hash and RSA padding).
func signWith(signer crypto.Signer, alg string, input []byte) ([]byte, error) {
	hashFor := func() crypto.Hash {
		switch {
		case strings.HasSuffix(alg, "384"):
			return crypto.SHA384
		case strings.HasSuffix(alg, "512"):
			return crypto.SHA512
		}
		return crypto.SHA256
	}
	switch priv := signer.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, input), nil
	case *ecdsa.PrivateKey:
		h := hashFor()
		d := h.New()
		d.Write(input)
		r, s, err := ecdsa.Sign(rand.Reader, priv, d.Sum(nil))
		if err != nil {
			return nil, err
		}
		size := (priv.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	case *rsa.PrivateKey:
		h := hashFor()
		d := h.New()
		d.Write(input)
		if strings.HasPrefix(alg, "PS") {
			return rsa.SignPSS(rand.Reader, priv, h, d.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand.Reader, priv, h, d.Sum(nil))
	}
	return nil, fmt.Errorf("audtest: cannot sign with %T", signer)
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Expired returns claims for resource that expired the given time ago.
func (i *Issuer) Expired(resource string, ago time.Duration) map[string]any {
	c := i.Claims(resource)
	now := i.opts.Now()
	c["iat"] = now.Add(-ago - i.opts.TokenLifetime).Unix()
	c["nbf"] = c["iat"]
	c["exp"] = now.Add(-ago).Unix()
	return c
}
