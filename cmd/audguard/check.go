package main

import (
	"bufio"
	"context"
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
