// Package vdev reads ZFS vdev labels without importing anything: the packed
// XDR nvlist, the four labels with their SHA-256 checksums, the uberblock
// ring, and which system can import the pool (OpenZFS, Oracle Solaris only,
// feature flags). It imports nothing from xsrescue, so that partition
// probing can use it.
//
// Formats and sources: docs/zfs.md and design/solaris-zfs.md §1–2.
package vdev
