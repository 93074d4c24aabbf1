package vdev_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
)

// realPools are exported zfs-fuse pools shared by the tests of this
// package, made on first use and destroyed by TestMain, also when a test
// fails. (Lazily: fuzz workers run TestMain too and must not make pools.)
var (
	realPools   = map[int]*fixtures.ZFSPool{}
	realDir     string
	realPoolsE  error
	realPoolsMu sync.Once
)

var poolVersions = []int{14, 22, 23}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range realPools {
		if err := p.Destroy(); err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
		}
	}
	if realDir != "" {
		os.RemoveAll(realDir)
	}
	os.Exit(code)
}

func makePools() error {
	if err := fixtures.EnsureZFSFuse(); err != nil {
		return err
	}
	var err error
	if realDir, err = os.MkdirTemp("", "xszfs-test-"); err != nil {
		return err
	}
	for _, v := range poolVersions {
		dir := filepath.Join(realDir, fmt.Sprintf("v%d", v))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		p, err := fixtures.NewZFSPool(dir, fmt.Sprintf("xszfs%dv%d", os.Getpid(), v), v, 128<<20)
		if err != nil {
			return err
		}
		realPools[v] = p
		if err := p.Export(); err != nil {
			return err
		}
	}
	return nil
}

// needPools skips when zfs-fuse cannot exist here and fails when it should
// have worked.
func needPools(t *testing.T) {
	t.Helper()
	realPoolsMu.Do(func() { realPoolsE = makePools() })
	if errors.Is(realPoolsE, fixtures.ErrNoZFS) {
		t.Skip(realPoolsE)
	}
	if realPoolsE != nil {
		t.Fatal(realPoolsE)
	}
}
