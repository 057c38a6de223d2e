package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/audguard/audguard/middleware"
)

const checkAbout = `Explains, check by check, whether a token is accepted for -resource and why
not. The token is the last argument, or - to read it from standard input. The
signature is never printed. Exit status: 0 valid, 1 invalid, 2 usage.`

// errInvalid marks an invalid token: exit code 1.
var errInvalid = fmt.Errorf("token invalid")

func runCheck(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var vf verifyFlags
	fs := newFlagSet("check", "audguard check -resource URI -issuer URL [-jwks-uri URL] [-allow-http-loopback] [flags] TOKEN|-", checkAbout, stdout, stderr)
	vf.register(fs, true)
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "audguard check: give exactly one token, or - to read it from standard input")
		fs.Usage()
		return errUsage
	}
	raw := fs.Arg(0)
	if raw == "-" {
		line, err := bufio.NewReaderSize(stdin, 64<<10).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(stderr, "audguard check: no token on standard input")
			return errUsage
		}
		raw = line
	}
	raw = strings.TrimSpace(raw)
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	cfg, err := vf.config(slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(stderr, "audguard check: %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return errUsage
	}
	cfg.CacheSize = middleware.NoCache
	v, err := middleware.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "audguard check: invalid configuration:\n  %s\n", strings.Join(configProblems(err), "\n  "))
		return errUsage
	}
	defer v.Close()

	checks, verr := v.Explain(ctx, raw)
	present(checks, raw)
	width := 0
	for _, c := range checks {
		width = max(width, len(c.Name))
	}
	for _, c := range checks {
		mark := "PASS"
		switch {
		case c.Skipped:
			mark = "SKIP"
		case !c.OK:
			mark = "FAIL"
		}
		fmt.Fprintf(stdout, "%s  %-*s  %s\n", mark, width, c.Name, c.Detail)
	}
	if verr != nil {
		fmt.Fprintf(stdout, "INVALID (%s): answered %d %s\n", middleware.Reason(verr), v.ErrorResponse(verr).Status, v.ErrorResponse(verr).Code)
		return errInvalid
	}
	fmt.Fprintln(stdout, "VALID")
	return nil
}

// unverifiedMark is what Explain appends to the claim checks it runs on a
// token whose signature was not verified.
const unverifiedMark = " (unverified: the signature was not checked or did not verify)"

// claimChecks are the checks that read claims; without a verified
// signature their values are only what the token says.
var claimChecks = map[string]bool{
	"claim types": true, "audience": true, "expiry": true, "not before": true, "issued at": true, "profile": true,
}

// present rewords the checks for a reader: the shape failure in plain
// words, and every claim check of an unverified token marked as such
// (Explain marks some of them only).
func present(checks []middleware.Check, raw string) {
	verified := false
	for _, c := range checks {
		if c.Name == "signature" && c.OK {
			verified = true
		}
	}
	for i := range checks {
		c := &checks[i]
		switch {
		case c.Skipped:
		case c.Name == "format" && !c.OK:
			c.Detail = shapeDetail(raw, c.Detail)
		case claimChecks[c.Name] && !verified && !strings.Contains(c.Detail, "(unverified"):
			c.Detail += unverifiedMark
		}
	}
}

// shapeDetail explains why a token does not have the compact JWS shape
// header.payload.signature. It never prints a segment.
func shapeDetail(raw, detail string) string {
	segs := strings.Split(raw, ".")
	switch {
	case raw == "":
		return "the token is empty"
	case len(segs) == 3 && segs[0] != "" && segs[1] != "" && segs[2] == "":
		if alg, ok := headerAlg(segs[0]); ok && strings.EqualFold(alg, "none") {
			return `unsigned token (alg "none", empty signature): unsigned tokens are never accepted`
		}
		return "unsigned token: the signature (third segment) is empty; unsigned tokens are never accepted"
	case len(segs) == 5:
		return "five segments: an encrypted token (JWE) rather than a signed one (JWS); a resource server accepts signed access tokens only"
	case len(segs) != 3:
		return fmt.Sprintf("not a signed JWT: a JWT has three dot-separated segments (header.payload.signature), this token has %d", len(segs))
	case segs[0] == "" || segs[1] == "":
		return "the header or the payload segment is empty"
	}
	// Other shape problems: drop the internal prefixes.
	detail = strings.TrimPrefix(detail, "shape: ")
	return strings.TrimPrefix(detail, "jose: ")
}

// headerAlg reads alg from a base64url JOSE header, for presentation only.
func headerAlg(seg string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return "", false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return "", false
	}
	return h.Alg, true
}
