// Package zfsroot reads the Solaris zone side of an offline system: zone
// configuration (/etc/zones), zone boot environments (through the zfs
// command when it can see the pool) and the IPS image configuration of a
// zone root, and it plans line-preserving repairs of that configuration and
// restores from ZFS snapshots as journal plans. Vdev labels (which pool a
// device belongs to, and who can import it) are in the vdev subpackage.
//
// Formats, rules and their upstream sources: docs/zfs.md.
package zfsroot
