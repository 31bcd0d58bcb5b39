package benchmark

import (
	"strings"
	"testing"
)

// FuzzReadTable: any input is either refused or gives a consistent table
// whose every row is found again by its own configuration.
func FuzzReadTable(f *testing.F) {
	f.Add(small)
	f.Add("a,b,c,seed0\nx,1,2,0.1\ny,1,4,0.2\nx,8,8,0.3\n")
	f.Add("a,seed0,seed1\n1e-3,1,\n0.001,2,3\n")
	f.Add("a,seed0\nnan,1\ninf,2\n")
	f.Add("\"a,b\",seed0\n\"x,y\",1\n")
	f.Fuzz(func(t *testing.T, csv string) {
		tb, err := ReadTable(strings.NewReader(csv), "fuzz")
		if err != nil {
			return
		}
		if len(tb.Configs) != len(tb.Means) || len(tb.Configs) != len(tb.Values) || len(tb.Configs) == 0 {
			t.Fatalf("inconsistent table: %d configs, %d means, %d value rows", len(tb.Configs), len(tb.Means), len(tb.Values))
		}
		if errs := tb.Space.Validate(nil); len(errs) > 0 {
			t.Fatalf("table space invalid: %v", errs)
		}
		for i, c := range tb.Configs {
			if j := tb.Lookup(c); j != i {
				t.Fatalf("row %d's configuration %v looks up row %d", i, c, j)
			}
		}
	})
}
