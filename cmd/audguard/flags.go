package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// envPrefix is prepended to a flag name (upper case, dashes → underscores)
// to form its environment variable: -jwks-max-stale → AUDGUARD_JWKS_MAX_STALE.
const envPrefix = "AUDGUARD_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// listFlag is a repeatable flag (-issuer a -issuer b). From the
// environment it takes a comma-separated list.
type listFlag struct {
	values []string
	set    bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(s string) error {
	if !l.set {
		l.values, l.set = nil, true // a flag replaces the environment's value
	}
	if s == "" {
		return errors.New("empty value")
	}
	l.values = append(l.values, s)
	return nil
}

// csvFlag is a comma-separated list given once (-scopes a,b).
type csvFlag struct{ values []string }

func (c *csvFlag) String() string { return strings.Join(c.values, ",") }

func (c *csvFlag) Set(s string) error {
	c.values = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.values = append(c.values, p)
		}
	}
	return nil
}

// durationFlag is a non-negative duration. A positive flag refuses 0s
// too: for the JWKS policy flags zero would silently mean "the library
// default".
type durationFlag struct {
	d        time.Duration
	positive bool
}

func (d *durationFlag) String() string { return formatDuration(d.d) }

func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration (examples: 30s, 5m, 24h)")
	}
	if v < 0 {
		return fmt.Errorf("must not be negative")
	}
	if v == 0 && d.positive {
		return fmt.Errorf("must be more than zero (examples: 30s, 5m, 24h)")
	}
	d.d = v
	return nil
}

// formatDuration prints a duration the way people write it: 24h, 5m, 30s,
// 1h30m rather than time.Duration's 24h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// flagSet wraps flag.FlagSet with environment defaults and a help text
// that lists every flag with its default and environment variable. Help
// asked for (-h) goes to stdout; usage after a mistake goes to stderr.
type flagSet struct {
	*flag.FlagSet
	synopsis string
	about    string
	stdout   io.Writer
	stderr   io.Writer
}

func newFlagSet(name, synopsis, about string, stdout, stderr io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), synopsis: synopsis, about: about, stdout: stdout, stderr: stderr}
	fs.SetOutput(stderr)
	fs.Usage = func() { fs.printUsage(fs.stderr) }
	return fs
}

func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", fs.synopsis, fs.about)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if len(names) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags (each also read from the environment; a flag wins over its variable):\n")
	sort.Strings(names)
	for _, n := range names {
		f := fs.Lookup(n)
		typ, usage := flag.UnquoteUsage(f)
		line := "  -" + n
		if typ != "" {
			line += " " + typ
		}
		fmt.Fprintln(w, line)
		def := f.DefValue
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(w, "      %s\n      (default %s; env %s)\n", usage, def, envName(n))
	}
}

// parse applies environment variables first, then the command line, so
// that flags win. It returns errUsage (already reported) on any problem.
func (fs *flagSet) parse(args []string, getenv func(string) string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		v := getenv(envName(f.Name))
		if v == "" || envErr != nil {
			return
		}
		if l, ok := f.Value.(*listFlag); ok {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					l.values = append(l.values, p)
				}
			}
			return
		}
		if err := f.Value.Set(v); err != nil {
			envErr = fmt.Errorf("invalid value %q for %s: %v", v, envName(f.Name), err)
		}
	})
	if envErr != nil {
		fmt.Fprintf(fs.stderr, "audguard %s: %v\n", fs.Name(), envErr)
		return errUsage
	}
	usage := fs.Usage
	fs.Usage = func() {} // printed below, to the right stream
	err := fs.Parse(args)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.printUsage(fs.stdout)
			return flag.ErrHelp
		}
		fs.printUsage(fs.stderr) // after the problem the flag package printed
		return errUsage
	}
	return nil
}

// errUsage marks a usage error that was already reported; exit code 2.
var errUsage = errors.New("usage error")

func getenvOS(k string) string { return os.Getenv(k) }
