package catalog_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/audguard/audguard/internal/catalog"
	"github.com/stretchr/testify/require"
)

// rows is the number of rows of each group of standards-and-attacks §3.
var rows = map[string]int{"A": 15, "B": 22, "C": 22, "D": 17, "E": 15, "F": 29, "G": 17, "H": 9}

var caseID = regexp.MustCompile(`^([A-H][0-9]+)_[A-Za-z0-9_]+$|^OK_[a-z0-9_]+$`)

// TestCoverage: every row of §3 is covered by at least one Case, by a
// named test elsewhere, or is listed as not applicable with a reason, and
// only one of these; every case ID starts with its row ID.
func TestCoverage(t *testing.T) {
	byRow := map[string][]string{}
	for _, c := range catalog.Cases() {
		m := caseID.FindStringSubmatch(c.ID)
		require.NotNil(t, m, "case ID %q must start with its catalog ID", c.ID)
		if m[1] != "" {
			byRow[m[1]] = append(byRow[m[1]], c.ID)
		}
	}
	var cases, elsewhere, na int
	for g, n := range rows {
		for i := 1; i <= n; i++ {
			id := fmt.Sprintf("%s%d", g, i)
			_, inNA := catalog.NotApplicable[id]
			_, inElse := catalog.Elsewhere[id]
			hasCase := len(byRow[id]) > 0
			covered := 0
			for _, b := range []bool{inNA, inElse, hasCase} {
				if b {
					covered++
				}
			}
			require.Equal(t, 1, covered, "row %s: cases %v, elsewhere %v, not applicable %v", id, byRow[id], inElse, inNA)
			switch {
			case hasCase:
				cases++
			case inElse:
				elsewhere++
			default:
				na++
			}
		}
	}
	for id := range byRow {
		g, n := id[:1], 0
		fmt.Sscan(id[1:], &n)
		require.True(t, n >= 1 && n <= rows[g], "case row %s is not in §3", id)
	}
	for id, why := range catalog.NotApplicable {
		require.NotEmpty(t, why, id)
		row := strings.SplitN(id, "_", 2)[0]
		require.Regexp(t, `^[A-H][0-9]+$`, row)
	}
	t.Logf("§3 rows: %d per-request cases (%d variants), %d covered by named tests elsewhere, %d not applicable",
		cases, len(catalog.Cases()), elsewhere, na)
}

// TestElsewhereTestsExist: each test named in Elsewhere exists in the
// directory it names (function and, when given, subtest name).
func TestElsewhereTestsExist(t *testing.T) {
	ids := make([]string, 0, len(catalog.Elsewhere))
	for id := range catalog.Elsewhere {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		dir, name, ok := strings.Cut(catalog.Elsewhere[id], ": ")
		require.True(t, ok, "%s: want \"<dir>: <Test>\"", id)
		fn, sub, _ := strings.Cut(name, "/")
		files, err := filepath.Glob(filepath.Join("..", "..", dir, "*_test.go"))
		require.NoError(t, err)
		var src strings.Builder
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			src.Write(b)
		}
		require.True(t, strings.Contains(src.String(), "func "+fn+"("), "%s: %s has no %s", id, dir, fn)
		if sub != "" {
			require.True(t, strings.Contains(src.String(), `"`+sub+`"`), "%s: %s has no subtest %q", id, dir, sub)
		}
	}
}
