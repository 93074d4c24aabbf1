// Package lazyre compiles a package's fixed regular expressions on first
// use instead of at program start. Every xsrescue run initialises every
// linked package, and most runs (disk inspect, --version, a help text)
// never match the zone, guest or answer-file patterns; compiled at init
// they cost each run a measurable share of its start-up
// (GODEBUG=inittrace=1 xsrescue --version, docs/dev/architecture.md).
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr once, on its first call (a
// bad expr panics there, as regexp.MustCompile at init would; each
// package's tests run its patterns).
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
