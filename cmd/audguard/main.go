package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

const usage = `audguard makes resource servers accept only access tokens issued for them.

Usage:
  audguard demo                 walk through audience binding end to end, in one process
  audguard proxy [flags]        guard an upstream HTTP server (e.g. an MCP server)
  audguard check [flags] TOKEN  explain, check by check, why a token is or is not accepted
  audguard version              print the version

Run "audguard <command> -h" for the flags of a command. Every flag can also be
set through an environment variable: -jwks-max-stale is AUDGUARD_JWKS_MAX_STALE.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], getenvOS, os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit code: 0 success,
// 1 failure (invalid token, failed demo, runtime error), 2 usage.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "demo":
		err = runDemo(ctx, rest, stdout, stderr)
	case "proxy":
		err = runProxy(ctx, rest, getenv, stdout, stderr, nil)
	case "check":
		err = runCheck(ctx, rest, getenv, stdin, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "audguard: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errInvalid):
		return 1
	default:
		fmt.Fprintf(stderr, "audguard %s: %v\n", args[0], err)
		return 1
	}
}

func versionString() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("audguard %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
