// Package answerfile writes and reads the XML answer files with which the
// XenServer host installer upgrades an existing installation, or restores
// the backup partition, unattended (PXE/kickstart fleets), and says which
// installer generations would restore which backup from such a file. The
// element names and the way each installer generation reads them are in
// docs/answerfile.md, with sources.
package answerfile

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/xsrescue/xsrescue/internal/lazyre"
)

// Source types the installer accepts in <source type="...">.
const (
	SourceLocal = "local" // the install media the installer booted from
	SourceURL   = "url"   // http, https, ftp, file or nfs:// URL
	SourceNFS   = "nfs"   // server:/path/
)

// ErrInvalid is wrapped by every validation and parse error.
var ErrInvalid = errors.New("invalid answer file")

// Upgrade is an answer file for <installation mode="upgrade">.
type Upgrade struct {
	// Disk is the disk that holds the installation, as the installer names
	// it: without "/dev/" (every installer generation accepts that form; the
	// oldest prefixes "/dev/" unconditionally).
	Disk       string
	SourceType string // SourceLocal, SourceURL or SourceNFS
	Source     string // the repository; empty for SourceLocal
	// PostInstallScript is fetched and run by the installer once the new root
	// is populated (<post-install-script>, read by every generation).
	PostInstallScript string
	// AdminInterface, when set, is written as <admin-interface proto="dhcp">:
	// the earliest answer-file parser reads it even in upgrade mode.
	AdminInterface string
}

// DiskName turns a device path into the name the installer expects in
// <existing-installation>: "/dev/sda" -> "sda",
// "/dev/disk/by-id/scsi-X" -> "disk/by-id/scsi-X".
func DiskName(dev string) string { return strings.TrimPrefix(dev, "/dev/") }

var (
	nfsRepo  = lazyre.New(`^[A-Za-z0-9._\[\]:-]+:/[^\s]*$`)
	diskName = lazyre.New(`^[A-Za-z0-9._:+/-]+$`)
	ifName   = lazyre.New(`^[A-Za-z0-9._-]{1,15}$`)
)

// SourceFor picks the source type for a repository location: "local" (or
// empty) for the installer's own media, "server:/path" for NFS, and a URL
// with scheme http, https, ftp, file or nfs otherwise.
func SourceFor(repo string) (typ, location string, err error) {
	switch {
	case repo == "" || repo == SourceLocal:
		return SourceLocal, "", nil
	case nfsRepo().MatchString(repo) && !strings.Contains(repo, "://"):
		return SourceNFS, repo, nil
	}
	if err := checkURL(repo, "source"); err != nil {
		return "", "", err
	}
	return SourceURL, repo, nil
}

func checkURL(s, what string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%w: %s %q: %v", ErrInvalid, what, s, err)
	}
	switch u.Scheme {
	case "http", "https", "ftp", "file", "nfs":
	default:
		return fmt.Errorf("%w: %s %q: scheme must be http, https, ftp, file or nfs (or server:/path for NFS)", ErrInvalid, what, s)
	}
	if u.Scheme != "file" && u.Host == "" {
		return fmt.Errorf("%w: %s %q: no host", ErrInvalid, what, s)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%w: %s %q: contains white space", ErrInvalid, what, s)
	}
	return nil
}

// Validate checks what the installer needs: a disk name it can prefix with
// /dev/, a source it can fetch, a script URL it can fetch.
func (u *Upgrade) Validate() error {
	if err := checkDiskName(u.Disk, "existing-installation"); err != nil {
		return err
	}
	switch u.SourceType {
	case SourceLocal:
		if u.Source != "" {
			return fmt.Errorf("%w: a local source takes no location (got %q)", ErrInvalid, u.Source)
		}
	case SourceNFS:
		if !nfsRepo().MatchString(u.Source) {
			return fmt.Errorf("%w: nfs source %q: want server:/path/", ErrInvalid, u.Source)
		}
	case SourceURL:
		if err := checkURL(u.Source, "source"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: source type %q: want local, url or nfs", ErrInvalid, u.SourceType)
	}
	if u.PostInstallScript != "" {
		if err := checkURL(u.PostInstallScript, "post-install-script"); err != nil {
			return err
		}
	}
	if u.AdminInterface != "" && !ifName().MatchString(u.AdminInterface) {
		return fmt.Errorf("%w: admin-interface %q is not an interface name", ErrInvalid, u.AdminInterface)
	}
	return nil
}

// checkDiskName accepts the disk name of an element the installer
// prefixes with /dev/ (normalize_disk): relative, no "..", no white space.
func checkDiskName(name, element string) error {
	if name == "" {
		return fmt.Errorf("%w: no %s disk", ErrInvalid, element)
	}
	if strings.HasPrefix(name, "/") || strings.Contains(name, "..") || !diskName().MatchString(name) {
		return fmt.Errorf("%w: %s %q: want a device name relative to /dev such as sda", ErrInvalid, element, name)
	}
	return nil
}

// The XML document. Field order is element order.
type xmlInstallation struct {
	XMLName  xml.Name   `xml:"installation"`
	Mode     string     `xml:"mode,attr"`
	Existing string     `xml:"existing-installation"`
	Source   xmlTyped   `xml:"source"`
	Script   *xmlTyped  `xml:"post-install-script,omitempty"`
	Admin    *xmlIfaceA `xml:"admin-interface,omitempty"`
}

type xmlTyped struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

type xmlIfaceA struct {
	Name  string `xml:"name,attr"`
	Proto string `xml:"proto,attr"`
}

// Marshal validates u and writes the answer file. The result is parsed back
// before it is returned, so what is written is what the installer will read.
func (u *Upgrade) Marshal() ([]byte, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	doc := xmlInstallation{Mode: "upgrade", Existing: u.Disk, Source: xmlTyped{Type: u.SourceType, Value: u.Source}}
	if u.PostInstallScript != "" {
		doc.Script = &xmlTyped{Type: SourceURL, Value: u.PostInstallScript}
	}
	if u.AdminInterface != "" {
		doc.Admin = &xmlIfaceA{Name: u.AdminInterface, Proto: "dhcp"}
	}
	return encodeChecked(doc, u, Parse)
}

// encodeChecked encodes doc and parses the result back with parse, which
// must give want: what is written is what the installer will read.
func encodeChecked[T comparable](doc any, want *T, parse func(io.Reader) (*T, error)) ([]byte, error) {
	b, err := encode(doc)
	if err != nil {
		return nil, err
	}
	back, err := parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("answer file does not parse back: %w", err)
	}
	if *back != *want {
		return nil, fmt.Errorf("answer file parses back as %+v, not %+v", *back, *want)
	}
	return b, nil
}

// encode writes doc as an indented XML document with its declaration.
func encode(doc any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("answer file: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// maxAnswerfile bounds what is read of an answer file.
const maxAnswerfile = 1 << 20

// decode reads one XML document into doc (at most 1 MiB) and refuses
// anything but white space and comments after it. Errors name the offset.
func decode(r io.Reader, doc any) error {
	dec := xml.NewDecoder(io.LimitReader(r, maxAnswerfile))
	if err := dec.Decode(doc); err != nil {
		return fmt.Errorf("%w: offset %d: %v", ErrInvalid, dec.InputOffset(), err)
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: offset %d: %v", ErrInvalid, dec.InputOffset(), err)
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) == 0 {
			continue
		}
		if _, ok := tok.(xml.Comment); ok {
			continue
		}
		return fmt.Errorf("%w: offset %d: content after the document element", ErrInvalid, dec.InputOffset())
	}
}

// Parse reads an upgrade answer file. Errors name the byte offset.
func Parse(r io.Reader) (*Upgrade, error) {
	var doc xmlInstallation
	if err := decode(r, &doc); err != nil {
		return nil, err
	}
	if doc.Mode != "upgrade" {
		return nil, fmt.Errorf("%w: <installation mode=%q>: want mode=\"upgrade\"", ErrInvalid, doc.Mode)
	}
	u := &Upgrade{
		Disk:       strings.TrimSpace(doc.Existing),
		SourceType: doc.Source.Type,
		Source:     strings.TrimSpace(doc.Source.Value),
	}
	if doc.Script != nil {
		u.PostInstallScript = strings.TrimSpace(doc.Script.Value)
	}
	if doc.Admin != nil {
		u.AdminInterface = doc.Admin.Name
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	return u, nil
}
