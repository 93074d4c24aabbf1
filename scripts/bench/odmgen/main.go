// Command odmgen builds the inputs of scripts/bench/odm.sh from the
// fixtures package: the AIX fixture, a big CuAt dump, a big dev/.
//
//	odmgen -aix DIR          the AIX fixture (DIR/odm, DIR/root/dev; needs root)
//	odmgen -dumps DIR        only its odmget dumps
//	odmgen -cuat N -o FILE   N CuAt objects in odmget layout
//	odmgen -dev N -o DIR     N special files (needs root)
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/xsrescue/xsrescue/fixtures"
)

func main() {
	aix := flag.String("aix", "", "build the AIX fixture in `DIR`")
	dumps := flag.String("dumps", "", "write the AIX fixture's odmget dumps to `DIR`")
	cuat := flag.Int("cuat", 0, "write `N` CuAt objects to -o")
	dev := flag.Int("dev", 0, "make `N` special files in -o")
	out := flag.String("o", "", "output file or directory")
	flag.Parse()
	if err := run(*aix, *dumps, *cuat, *dev, *out); err != nil {
		fmt.Fprintln(os.Stderr, "odmgen:", err)
		os.Exit(1)
	}
}

func run(aix, dumps string, cuat, dev int, out string) error {
	switch {
	case dumps != "":
		return fixtures.WriteAIXDumps(dumps)
	case aix != "":
		_, err := fixtures.BuildAIX(aix)
		return err
	case cuat > 0:
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		if err := fixtures.WriteAIXCuAt(f, cuat); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	case dev > 0:
		return fixtures.MakeAIXDev(out, dev)
	}
	return fmt.Errorf("give -aix DIR, -dumps DIR, -cuat N -o FILE or -dev N -o DIR")
}
