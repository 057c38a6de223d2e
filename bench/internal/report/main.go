// Command report reads the output of interleaved benchmark rounds of
// BenchmarkAuth (several runs of the test binary appended to one file) and
// prints markdown tables: per mode and algorithm, each implementation's
// median ns/op, B/op and allocs/op, its ratio to the floor and its
// overhead above the floor. Ratio and overhead are the medians of the
// per-round values (each round measures the floor and every
// implementation once), which keeps them meaningful on a shared, noisy
// machine where absolute times drift between rounds.
//
// Usage: go run ./internal/report [-machine] raw.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

type key struct{ mode, alg, impl string }

// paired holds BenchmarkPaired's metrics per implementation and round.
var (
	paired      map[key][]map[string]float64
	pairedOrder []key
)

type sample struct {
	round               int
	ns, bytes, allocs   float64
	hasBytes, hasAllocs bool
}

func main() {
	machine := flag.Bool("machine", false, "print the machine (CPU, cores, Go, date) first")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: report [-machine] raw.txt")
		os.Exit(2)
	}
	data, order, cont, err := read(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	if *machine {
		printMachine()
	}
	printPaired()
	print(data, order)
	printContention(cont)
}

// printPaired prints BenchmarkPaired: per implementation, the medians over
// the rounds of its per-round median operation time, the floor's, their
// ratio and the median per-pair difference.
func printPaired() {
	if len(pairedOrder) == 0 {
		return
	}
	fmt.Println("### paired with the floor (median of per-operation times; serial)")
	fmt.Println()
	fmt.Println("| alg | implementation | floor µs | implementation µs | × floor | overhead µs | rounds |")
	fmt.Println("|---|---|--:|--:|--:|--:|--:|")
	for _, k := range pairedOrder {
		var fl, im, ra, ov []float64
		for _, m := range paired[k] {
			fl = append(fl, m["floor-µs"])
			im = append(im, m["impl-µs"])
			ra = append(ra, m["×floor"])
			ov = append(ov, m["overhead-µs"])
		}
		fmt.Printf("| %s | %s | %.1f | %.2f | %.3f | %+.2f | %d |\n", k.alg, k.impl, median(fl), median(im), median(ra), median(ov), len(fl))
	}
	fmt.Println()
}

// printContention prints the medians of BenchmarkJWKSContention's metrics
// over the rounds.
func printContention(cont map[string][]float64) {
	if len(cont) == 0 {
		return
	}
	fmt.Printf("### JWKS contention (1,000 concurrent requests with one unknown kid, JWKS answering after 2 s; %d rounds, medians)\n\n", len(cont["jwks-fetches"]))
	fmt.Println("| metric | value |")
	fmt.Println("|---|--:|")
	for _, m := range []string{"jwks-fetches", "unknown-wait-ms", "p50-before-µs", "p99-before-µs", "p50-during-µs", "p99-during-µs", "known-reqs-during"} {
		if xs, ok := cont[m]; ok {
			fmt.Printf("| %s | %.4g (min %.4g, max %.4g) |\n", m, median(xs), minOf(xs), maxOf(xs))
		}
	}
	fmt.Println()
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// read parses benchmark lines. A line "goos: ..." starts a new round.
func read(path string) (map[key][]sample, []key, map[string][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	data := map[key][]sample{}
	cont := map[string][]float64{}
	paired = map[key][]map[string]float64{}
	pairedOrder = nil
	var order []key
	round := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "goos:") {
			round++
			continue
		}
		if strings.HasPrefix(line, "BenchmarkPaired/") {
			f := strings.Fields(line)
			if k, ok := parseName(strings.Replace(f[0], "BenchmarkPaired/", "BenchmarkPaired/mode=paired/", 1)); ok {
				m := map[string]float64{}
				for i := 2; i+1 < len(f); i += 2 {
					if v, err := strconv.ParseFloat(f[i], 64); err == nil {
						m[f[i+1]] = v
					}
				}
				if _, seen := paired[k]; !seen {
					pairedOrder = append(pairedOrder, k)
				}
				paired[k] = append(paired[k], m)
			}
			continue
		}
		if strings.HasPrefix(line, "BenchmarkJWKSContention") {
			f := strings.Fields(line)
			for i := 2; i+1 < len(f); i += 2 {
				if v, err := strconv.ParseFloat(f[i], 64); err == nil && f[i+1] != "ns/op" {
					cont[f[i+1]] = append(cont[f[i+1]], v)
				}
			}
			continue
		}
		if !strings.HasPrefix(line, "BenchmarkAuth/") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 {
			continue
		}
		k, ok := parseName(fields[0])
		if !ok {
			continue
		}
		var s sample
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				s.ns = v
			case "B/op":
				s.bytes, s.hasBytes = v, true
			case "allocs/op":
				s.allocs, s.hasAllocs = v, true
			}
		}
		if _, seen := data[k]; !seen {
			order = append(order, k)
		}
		// With -count > 1 inside one round, the n-th samples pair up.
		for _, prev := range data[k] {
			if prev.round/1000 == round {
				s.round++
			}
		}
		s.round += round * 1000
		data[k] = append(data[k], s)
	}
	return data, order, cont, sc.Err()
}

// parseName splits "BenchmarkAuth/mode=serial/alg=RS256/impl=floor-2".
func parseName(name string) (key, bool) {
	var k key
	parts := strings.Split(name, "/")
	for _, p := range parts[1:] {
		n, v, ok := strings.Cut(p, "=")
		if !ok {
			return k, false
		}
		switch n {
		case "mode":
			k.mode = v
		case "alg":
			k.alg = v
		case "impl":
			if i := strings.LastIndexByte(v, '-'); i > 0 {
				if _, err := strconv.Atoi(v[i+1:]); err == nil {
					v = v[:i] // GOMAXPROCS suffix
				}
			}
			k.impl = v
		}
	}
	return k, k.mode != "" && k.alg != "" && k.impl != ""
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func spread(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := median(s)
	if m == 0 {
		return 0
	}
	// Half the range between the quartiles, relative to the median.
	q1, q3 := s[len(s)/4], s[(3*len(s))/4]
	return (q3 - q1) / 2 / m * 100
}

func print(data map[key][]sample, order []key) {
	var modes, algsSeen []string
	impls := map[string][]string{}
	seen := map[string]bool{}
	for _, k := range order {
		if !seen["m"+k.mode] {
			seen["m"+k.mode] = true
			modes = append(modes, k.mode)
		}
		if !seen["a"+k.alg] {
			seen["a"+k.alg] = true
			algsSeen = append(algsSeen, k.alg)
		}
		ma := k.mode + "/" + k.alg
		if !seen["i"+ma+k.impl] {
			seen["i"+ma+k.impl] = true
			impls[ma] = append(impls[ma], k.impl)
		}
	}
	for _, mode := range modes {
		fmt.Printf("### %s\n\n", mode)
		fmt.Println("| alg | implementation | µs/op (median) | ± | B/op | allocs/op | × floor | overhead µs | rounds |")
		fmt.Println("|---|---|--:|--:|--:|--:|--:|--:|--:|")
		for _, alg := range algsSeen {
			floor := data[key{mode, alg, "floor"}]
			floorByRound := map[int]float64{}
			for _, s := range floor {
				floorByRound[s.round] = s.ns
			}
			for _, impl := range impls[mode+"/"+alg] {
				ss := data[key{mode, alg, impl}]
				var ns, bs, as, ratios, over []float64
				for _, s := range ss {
					ns = append(ns, s.ns)
					bs = append(bs, s.bytes)
					as = append(as, s.allocs)
					if f, ok := floorByRound[s.round]; ok && f > 0 {
						ratios = append(ratios, s.ns/f)
						over = append(over, (s.ns-f)/1000)
					}
				}
				ratio, overhead := "–", "–"
				if impl != "floor" && len(ratios) > 0 {
					ratio = fmt.Sprintf("%.2f", median(ratios))
					overhead = fmt.Sprintf("%+.1f", median(over))
				}
				fmt.Printf("| %s | %s | %.2f | %.0f%% | %.0f | %.0f | %s | %s | %d |\n",
					alg, impl, median(ns)/1000, spread(ns), median(bs), median(as), ratio, overhead, len(ss))
			}
		}
		fmt.Println()
	}
	if len(modes) == 2 {
		fmt.Println("### parallel speed-up (serial µs/op ÷ parallel µs/op, per round, median)")
		fmt.Println()
		fmt.Println("| alg | implementation | speed-up |")
		fmt.Println("|---|---|--:|")
		for _, alg := range algsSeen {
			for _, impl := range impls[modes[0]+"/"+alg] {
				par := map[int]float64{}
				for _, s := range data[key{modes[1], alg, impl}] {
					par[s.round] = s.ns
				}
				var ups []float64
				for _, s := range data[key{modes[0], alg, impl}] {
					if p, ok := par[s.round]; ok && p > 0 {
						ups = append(ups, s.ns/p)
					}
				}
				if len(ups) > 0 {
					fmt.Printf("| %s | %s | %.2f× |\n", alg, impl, median(ups))
				}
			}
		}
		fmt.Println()
	}
}

func printMachine() {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					cpu = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	fmt.Printf("- CPU: %s; cores: %d; %s %s/%s\n", cpu, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("- load average at the end of the run: %s\n", strings.Join(strings.Fields(string(b))[:3], " "))
	}
	fmt.Println()
}
