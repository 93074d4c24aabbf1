package versionfile

import (
	"github.com/xsrescue/xsrescue/internal/installerview"
	"github.com/xsrescue/xsrescue/target"
)

// installerView resolves paths of a root as the installer's kernel does
// with the root mounted below its ramdisk (internal/installerview).
type installerView struct{ root *target.Root }

func (v installerView) stat(name string) installerview.Result {
	return installerview.Stat(v.root, name)
}
