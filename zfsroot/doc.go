// Package zfsroot reads what a Solaris or OpenSolaris system left on disk
// without importing anything: ZFS vdev labels (XDR nvlists, uberblocks, which
// OS can import the pool), zone configuration (/etc/zones), zone boot
// environments (through the zfs command when it can see the pool) and the IPS
// image configuration of a zone root, and it plans line-preserving repairs of
// that configuration as journal plans.
//
// Formats and sources: docs/zfs.md and design/solaris-zfs.md.
package zfsroot
