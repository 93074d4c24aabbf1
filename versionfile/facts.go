package versionfile

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/xsrescue/xsrescue/internal/lazyre"
	"github.com/xsrescue/xsrescue/target"
)

// FirstbootFacts is what the firstboot tests of every installer generation
// look at (ExistingInstallation.isUpgradeable).
type FirstbootFacts struct {
	StateDir bool `json:"state_dir"` // etc/firstboot.d/state exists
	// StateEntries counts the entries of the state directory (5.5 compares
	// this number with the number of scripts).
	StateEntries int `json:"state_entries"`
	// Scripts are the firstboot scripts: names in etc/firstboot.d starting
	// with a digit, executable by their owner (symlinks followed).
	Scripts []string `json:"scripts"`
	// Missing are the scripts without a state file: they never ran (or
	// never finished).
	Missing        []string `json:"missing_state"`
	RanNetworkInit bool     `json:"ran_network_init"` // var/lib/misc/ran-network-init
	RanStorageInit bool     `json:"ran_storage_init"` // var/lib/misc/ran-storage-init
	Problem        string   `json:"problem,omitempty"`
}

// Files the firstboot tests and the later upgrade steps look at.
const (
	firstbootDir   = "etc/firstboot.d"
	firstbootState = "etc/firstboot.d/state"
	ranNetworkInit = "var/lib/misc/ran-network-init"
	ranStorageInit = "var/lib/misc/ran-storage-init"
	safe2Upgrade   = "var/preserve/safe2upgrade"    // written by the prepare_host_upgrade plugin
	safe2MBR       = "var/preserve/safe2mbrupgrade" // the same, for a DOS disk the installer may convert
	serverCert     = "etc/xensource/xapi-ssl.pem"
)

func readFirstboot(root *target.Root) FirstbootFacts {
	f := FirstbootFacts{Scripts: []string{}, Missing: []string{}}
	f.RanNetworkInit = exists(root, ranNetworkInit)
	f.RanStorageInit = exists(root, ranStorageInit)
	fi, err := root.Stat(firstbootState)
	if err != nil || !fi.IsDir() {
		return f
	}
	f.StateDir = true
	if st, err := root.ReadDir(firstbootState); err == nil {
		f.StateEntries = len(st)
	} else {
		f.Problem = fmt.Sprintf("%s: %v", firstbootState, err)
	}
	entries, err := root.ReadDir(firstbootDir)
	if err != nil {
		f.Problem = fmt.Sprintf("%s: %v", firstbootDir, err)
		return f
	}
	for _, e := range entries {
		name := e.Name()
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		fi, err := root.Stat(path.Join(firstbootDir, name))
		if err != nil || fi.Mode()&0o100 == 0 {
			continue
		}
		f.Scripts = append(f.Scripts, name)
		if !exists(root, path.Join(firstbootState, name)) {
			f.Missing = append(f.Missing, name)
		}
	}
	sort.Strings(f.Scripts)
	sort.Strings(f.Missing)
	return f
}

// exists is os.path.exists: the path, symlinks followed (inside the root).
func exists(root *target.Root, p string) bool {
	_, err := root.Stat(p)
	return err == nil
}

// RootFacts are the other files of the root some installers look at.
type RootFacts struct {
	Safe2Upgrade    bool `json:"safe2upgrade"`    // var/preserve/safe2upgrade
	Safe2MBRUpgrade bool `json:"safe2mbrupgrade"` // var/preserve/safe2mbrupgrade
	// UEFI: etc/fstab mounts /boot/efi (XCP-ng's is_rootfs_uefi).
	UEFI bool `json:"uefi"`
	// CertBits is the key size of etc/xensource/xapi-ssl.pem's
	// certificate, 0 when it cannot be read (CertProblem says why).
	CertBits    int    `json:"cert_bits"`
	CertProblem string `json:"cert_problem,omitempty"`
}

var fstabEFI = lazyre.New(`^\s*[^#]+\s/boot/efi\s`)

func readRootFacts(root *target.Root) RootFacts {
	r := RootFacts{Safe2Upgrade: isFile(root, safe2Upgrade), Safe2MBRUpgrade: isFile(root, safe2MBR)}
	if data, err := readSmall(root, "etc/fstab"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if fstabEFI().MatchString(sc.Text() + "\n") {
				r.UEFI = true
			}
		}
	}
	r.CertBits, r.CertProblem = certBits(root)
	return r
}

// isFile is os.path.isfile.
func isFile(root *target.Root, p string) bool {
	fi, err := root.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// certBits is crypto.load_certificate(PEM).get_pubkey().bits() of the
// server certificate.
func certBits(root *target.Root) (int, string) {
	data, err := readSmall(root, serverCert)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, serverCert + " is missing"
	}
	if err != nil {
		return 0, fmt.Sprintf("%s: %v", serverCert, err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return 0, serverCert + " holds no PEM certificate"
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return 0, fmt.Sprintf("%s: %v", serverCert, err)
		}
		switch k := c.PublicKey.(type) {
		case *rsa.PublicKey:
			return k.N.BitLen(), ""
		case *ecdsa.PublicKey:
			return k.Curve.Params().BitSize, ""
		}
		return 0, fmt.Sprintf("%s: %T key: size not known to xsrescue", serverCert, c.PublicKey)
	}
}
