package extfs

import (
	"encoding/binary"
	"io"
)

// xattrPrefixes are the name prefixes of the attribute name indexes the
// kernel lists (fs/ext4/xattr.c ext4_xattr_handler_map); other indexes
// (system.data of inline data, Lustre, richacl) are not listed.
var xattrPrefixes = map[uint8]string{
	1: "user.",
	2: "system.posix_acl_access",
	3: "system.posix_acl_default",
	4: "trusted.",
	6: "security.",
}

const maxXattrValue = 64 << 10 // XATTR_SIZE_MAX

// Xattrs returns the extended attributes of in as llistxattr/lgetxattr
// on a kernel mount show them (as root): in-inode ones, then those of the
// attribute block; POSIX ACLs converted from ext4's compact form to the
// generic one; values kept in EA inodes read from them.
func (f *FS) Xattrs(in *Inode) (map[string][]byte, error) {
	xs, err := f.ibodyXattrs(in)
	if err != nil {
		return nil, err
	}
	if in.fileACL != 0 {
		bx, err := f.blockXattrs(in)
		if err != nil {
			return nil, err
		}
		xs = append(xs, bx...)
	}
	var out map[string][]byte
	for _, x := range xs {
		prefix, ok := xattrPrefixes[x.index]
		if !ok {
			continue
		}
		v := x.value
		if x.inum != 0 {
			if v, err = f.eaInodeValue(in, x); err != nil {
				return nil, err
			}
		}
		if x.index == 2 || x.index == 3 {
			if v, err = aclToXattr(v); err != nil {
				return nil, f.errf(ErrCorrupt, in.Ino, -1, "%s: %v", prefix, err)
			}
		}
		if out == nil {
			out = map[string][]byte{}
		}
		out[prefix+x.name] = v
	}
	return out, nil
}

// blockXattrs reads the attribute block of in (e2fsprogs struct
// ext2_ext_attr_header: magic, refcount, blocks, hash, checksum).
func (f *FS) blockXattrs(in *Inode) ([]xattr, error) {
	blk := in.fileACL
	if blk < f.firstData || blk >= f.blocks {
		return nil, f.errf(ErrCorrupt, in.Ino, -1, "extended attribute block %d is outside the %d blocks", blk, f.blocks)
	}
	b, err := f.block(blk)
	if err != nil {
		return nil, err
	}
	at := f.off + int64(blk)*f.bs
	le := binary.LittleEndian
	if le.Uint32(b) != xattrMagic || le.Uint32(b[8:]) != 1 {
		return nil, f.errf(ErrCorrupt, in.Ino, at, "extended attribute block: bad magic %#08x or block count %d", le.Uint32(b), le.Uint32(b[8:]))
	}
	if f.roCompat&roCompatMetadataCsum != 0 {
		c := append([]byte(nil), b...)
		c[0x10], c[0x11], c[0x12], c[0x13] = 0, 0, 0, 0
		var nb [8]byte
		le.PutUint64(nb[:], blk)
		if got, want := le.Uint32(b[0x10:]), crc32c(crc32c(f.csumSeed, nb[:]), c); got != want {
			return nil, f.errf(ErrCorrupt, in.Ino, at, "extended attribute block checksum %#08x does not match its content (%#08x)", got, want)
		}
	}
	xs, err := parseXattrEntries(b[32:], b)
	if err != nil {
		return nil, f.errf(ErrCorrupt, in.Ino, at, "extended attribute block: %v", err)
	}
	return xs, nil
}

// eaInodeValue reads a value kept in its own inode (ea_inode feature).
func (f *FS) eaInodeValue(owner *Inode, x xattr) ([]byte, error) {
	ea, err := f.inode(x.inum)
	if err != nil {
		return nil, err
	}
	if ea.Flags&flagEAInode == 0 || !ea.isReg() || ea.Size > maxXattrValue {
		return nil, f.errf(ErrCorrupt, owner.Ino, -1, "attribute %s: inode %d is not an attribute value", x.name, x.inum)
	}
	fl, err := f.openInode(ea, "")
	if err != nil {
		return nil, err
	}
	v := make([]byte, ea.Size)
	if _, err := fl.ReadAt(v, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return v, nil
}

// aclToXattr converts an ext4 ACL (fs/ext4/acl.c: version 1, short
// entries for the owner, group, mask and other) to the generic
// posix_acl_xattr form getxattr returns (version 2, 8-byte entries, id
// 0xffffffff where there is none).
func aclToXattr(v []byte) ([]byte, error) {
	le := binary.LittleEndian
	if len(v) < 4 || le.Uint32(v) != 1 {
		return nil, errString("not an ext4 ACL (version 1)")
	}
	out := le.AppendUint32(nil, 2)
	for p := v[4:]; len(p) > 0; {
		if len(p) < 4 {
			return nil, errString("ACL entry cut short")
		}
		tag, perm := le.Uint16(p), le.Uint16(p[2:])
		id := uint32(0xffffffff)
		switch tag {
		case 0x01, 0x04, 0x10, 0x20: // USER_OBJ, GROUP_OBJ, MASK, OTHER
			p = p[4:]
		case 0x02, 0x08: // USER, GROUP
			if len(p) < 8 {
				return nil, errString("ACL entry cut short")
			}
			id = le.Uint32(p[4:])
			p = p[8:]
		default:
			return nil, errString("unknown ACL tag")
		}
		out = le.AppendUint16(out, tag)
		out = le.AppendUint16(out, perm)
		out = le.AppendUint32(out, id)
	}
	return out, nil
}
