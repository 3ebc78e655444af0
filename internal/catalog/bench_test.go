package catalog_test

import (
	"testing"

	"github.com/wild-cloud/wild/internal/render"
)

// BenchmarkCompileBundled renders every bundled app's defaultConfig,
// secrets defaults and resource files with a fresh engine (nothing
// cached): the template cost of adding the whole catalog.
func BenchmarkCompileBundled(b *testing.B) {
	b.ReportAllocs()
	files := 0
	for b.Loop() {
		e := render.New()
		files = 0
		for _, a := range addAll(b, e) {
			out, err := a.pkg.Compile(e, a.config)
			if err != nil {
				b.Fatal(err)
			}
			files += len(out)
		}
	}
	b.ReportMetric(float64(files), "files")
}
