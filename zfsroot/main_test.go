package zfsroot_test

import (
	"errors"
	"testing"

	"github.com/xsrescue/xsrescue/fixtures"
)

// needZFS skips when zfs-fuse cannot exist here and fails when it should
// have worked.
func needZFS(t *testing.T) {
	t.Helper()
	if err := fixtures.EnsureZFSFuse(); errors.Is(err, fixtures.ErrNoZFS) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
}
