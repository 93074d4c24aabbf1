package answerfile

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Restore is an answer file for an unattended Restore from a backup
// partition: <restore><backup-disk>NAME</backup-disk></restore>. The
// installer restores the one backup it finds whose PRIMARY_DISK is the disk
// NAME names, and aborts when it finds more than one (docs/answerfile.md).
type Restore struct {
	// BackupDisk is the disk as the installer names it, without "/dev/":
	// the installer prefixes it (normalize_disk) and compares the result's
	// realpath with each backup's realpath(PRIMARY_DISK).
	BackupDisk string
}

// Validate checks that the installer can prefix BackupDisk with /dev/.
func (r *Restore) Validate() error { return checkDiskName(r.BackupDisk, "backup-disk") }

type xmlRestore struct {
	XMLName    xml.Name `xml:"restore"`
	BackupDisk string   `xml:"backup-disk"`
}

// Marshal validates r and writes the answer file, parsed back before it is
// returned.
func (r *Restore) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return encodeChecked(xmlRestore{BackupDisk: r.BackupDisk}, r, ParseRestore)
}

// ParseRestore reads a restore answer file as the installer does
// (parseRestore with minidom): the document element <restore>, and every
// <backup-disk> element at any depth (getElementsByTagName), of which there
// must be exactly one: the installer filters the backups only then
// (len(nodes) == 1); without it, or with two, it restores whichever single
// backup it finds, which is not what xsrescue writes. The name is the
// element's own text, white space stripped (xcp.xmlunwrap getText). CDATA
// is refused: getText skips it. Errors name the byte offset.
func ParseRestore(rd io.Reader) (*Restore, error) {
	data, err := io.ReadAll(io.LimitReader(rd, maxAnswerfile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAnswerfile {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, maxAnswerfile)
	}
	if i := bytes.Index(data, []byte("<![CDATA[")); i >= 0 {
		return nil, fmt.Errorf("%w: offset %d: a CDATA section, which the installer does not read as text", ErrInvalid, i)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: offset %d: %s", ErrInvalid, dec.InputOffset(), fmt.Sprintf(format, args...))
	}
	var (
		depth, textDepth int // textDepth: inside the first <backup-disk>, its depth
		root, done       bool
		disks            int
		text             strings.Builder
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bad("%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case done:
				return nil, bad("content after </restore>")
			case !root && (t.Name.Space != "" || t.Name.Local != "restore"):
				return nil, bad("document element <%s>: want <restore>", t.Name.Local)
			case !root:
				root = true
			case t.Name.Space == "" && t.Name.Local == "backup-disk":
				disks++
				if disks == 1 {
					textDepth = depth + 1
				}
			}
			depth++
		case xml.EndElement:
			if depth == textDepth {
				textDepth = 0
			}
			depth--
			done = depth == 0
		case xml.CharData:
			switch {
			case depth == 0 && len(bytes.TrimSpace(t)) > 0:
				return nil, bad("text outside <restore>")
			case textDepth > 0 && depth == textDepth:
				text.Write(t)
			}
		}
	}
	switch {
	case !root:
		return nil, fmt.Errorf("%w: no <restore> element", ErrInvalid)
	case disks != 1:
		return nil, fmt.Errorf("%w: <restore> has %d <backup-disk> elements: want exactly one (the installer filters the backups only then)", ErrInvalid, disks)
	}
	r := &Restore{BackupDisk: strings.TrimSpace(text.String())}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}
