// Package vdev reads ZFS vdev labels without importing anything: the packed
// XDR nvlist, the four labels with their SHA-256 checksums, the uberblock
// ring, and which system can import the pool (OpenZFS, Oracle Solaris only,
// feature flags). It imports nothing from xsrescue, so that partition
// probing can use it.
//
// Formats and their upstream sources: docs/zfs.md.
package vdev
