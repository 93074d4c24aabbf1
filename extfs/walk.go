package extfs

import (
	"io/fs"
)

// WalkDir walks the tree at root like fs.WalkDir (lexical order, symlinks
// listed but never followed), and also survives a corrupt tree: a
// directory met a second time (a hard-linked directory making a cycle) is
// reported to fn as an error instead of being walked again.
func (f *FS) WalkDir(root string, fn fs.WalkDirFunc) error {
	in, err := f.walk("walk", root, true)
	if err != nil {
		return fn(root, nil, err)
	}
	seen := map[uint32]bool{}
	d := &dirEntry{fs: f, e: Dirent{Name: baseName(root), Ino: in.Ino, Type: typeMode(in.Mode)}}
	err = f.walkDir(root, d, in, seen, fn)
	if err == fs.SkipDir || err == fs.SkipAll {
		return nil
	}
	return err
}

func (f *FS) walkDir(name string, d *dirEntry, in *Inode, seen map[uint32]bool, fn fs.WalkDirFunc) error {
	if err := fn(name, d, nil); err != nil || !d.IsDir() {
		if err == fs.SkipDir && d.IsDir() {
			err = nil
		}
		return err
	}
	if seen[in.Ino] {
		return fn(name, d, f.errf(ErrCorrupt, in.Ino, -1, "directory %s reached twice (a directory cycle)", name))
	}
	seen[in.Ino] = true
	ents, err := f.readDirEntries(in, name)
	if err != nil {
		if err = fn(name, d, err); err != nil {
			if err == fs.SkipDir {
				err = nil
			}
			return err
		}
	}
	for _, e := range ents {
		child := joinName(name, e.Name)
		cd := &dirEntry{fs: f, e: e, dir: name}
		var cin *Inode
		if e.Type.IsDir() {
			if cin, err = f.inode(e.Ino); err != nil {
				err = withPath(err, child)
			} else if !cin.isDir() {
				err = f.errf(ErrCorrupt, e.Ino, -1, "%s: the entry says directory, the inode says %v", child, cin.FileMode().Type())
			}
			if err != nil {
				if err := fn(child, cd, err); err != nil && err != fs.SkipDir {
					return err
				}
				continue
			}
		}
		if err := f.walkDir(child, cd, cin, seen, fn); err != nil {
			if err == fs.SkipDir {
				break
			}
			return err
		}
	}
	return nil
}
