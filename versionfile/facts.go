package versionfile

import (
	"bufio"
	"bytes"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"path"
	"sort"

	"github.com/xsrescue/xsrescue/internal/lazyre"
	"github.com/xsrescue/xsrescue/target"
)

// FirstbootFacts is what the firstboot tests of every installer generation
// look at (ExistingInstallation.isUpgradeable), each path resolved as the
// installer resolves it (installerview.go).
type FirstbootFacts struct {
	StateDir bool `json:"state_dir"` // etc/firstboot.d/state is a directory
	// StateNotDir: etc/firstboot.d/state exists but is not a directory
	// (os.path.exists is true for it; os.listdir raises).
	StateNotDir bool `json:"state_not_dir,omitempty"`
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
	// StatFails are digit-named entries of etc/firstboot.d that
	// isUpgradeable's os.stat cannot stat: a dangling symlink, a symlink
	// loop. The stat raises OSError (caught or not, by generation).
	StatFails []FirstbootPath `json:"stat_fails"`
	// Unresolved are paths of the test that lead out of the root (an
	// absolute symlink, or ".." above it): the installer resolves them on
	// its own ramdisk, so what it finds there is unknown.
	Unresolved []FirstbootPath `json:"unresolved"`
	Problem    string          `json:"problem,omitempty"`
}

// FirstbootPath is one path of the firstboot test with why it is listed.
type FirstbootPath struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// unresolved reports whether p (a path of the test) leads out of the root.
func (f FirstbootFacts) unresolved(p string) bool {
	for _, u := range f.Unresolved {
		if u.Path == p {
			return true
		}
	}
	return false
}

// stateExists is os.path.exists(etc/firstboot.d/state).
func (f FirstbootFacts) stateExists() bool { return f.StateDir || f.StateNotDir }

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

// readFirstboot reads what isUpgradeable tests, in its order: the state
// directory (os.path.exists), the digit-named entries of etc/firstboot.d
// (os.listdir, os.stat), a state file per script (os.path.exists), the
// init-service markers.
func readFirstboot(root *target.Root) FirstbootFacts {
	f := FirstbootFacts{Scripts: []string{}, Missing: []string{}, StatFails: []FirstbootPath{}, Unresolved: []FirstbootPath{}}
	v := installerView{root}
	// exists is os.path.exists in the installer: false on any OSError.
	exists := func(p string) bool {
		st := v.stat(p)
		switch {
		case st.Outside != "":
			f.Unresolved = append(f.Unresolved, FirstbootPath{p, st.Outside + ": the installer looks on its own ramdisk"})
		case st.Problem != nil && f.Problem == "":
			f.Problem = st.Problem.Error()
		}
		return st.FileInfo != nil
	}
	f.RanNetworkInit = exists(ranNetworkInit)
	f.RanStorageInit = exists(ranStorageInit)
	st := v.stat(firstbootState)
	switch {
	case st.Outside != "":
		f.Unresolved = append(f.Unresolved, FirstbootPath{firstbootState, st.Outside + ": the installer looks on its own ramdisk"})
		return f
	case st.Problem != nil:
		f.Problem = st.Problem.Error()
		return f
	case st.FileInfo == nil:
	case !st.FileInfo.IsDir():
		f.StateNotDir = true
	default:
		f.StateDir = true
		if ents, err := root.ReadDir(st.Real); err == nil {
			f.StateEntries = len(ents)
		} else {
			f.Problem = fmt.Sprintf("%s: %v", firstbootState, err)
		}
	}
	// The scripts are listed even without the state directory, which the
	// installers test first: what a repair has to reckon with.
	dir := v.stat(firstbootDir)
	switch {
	case dir.Problem != nil:
		f.Problem = dir.Problem.Error()
		return f
	case dir.FileInfo == nil || !dir.FileInfo.IsDir():
		return f
	}
	entries, err := root.ReadDir(dir.Real)
	if err != nil {
		f.Problem = fmt.Sprintf("%s: %v", firstbootDir, err)
		return f
	}
	for _, e := range entries {
		name := e.Name()
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		p := path.Join(firstbootDir, name)
		st := v.stat(p)
		switch {
		case st.Outside != "":
			f.Unresolved = append(f.Unresolved, FirstbootPath{p, st.Outside + ": the installer stats it on its own ramdisk"})
			continue
		case st.Problem != nil:
			f.Problem = st.Problem.Error()
			continue
		case st.Err != nil:
			f.StatFails = append(f.StatFails, FirstbootPath{p, st.Err.Error()})
			continue
		case st.FileInfo.Mode()&0o100 == 0:
			continue
		}
		f.Scripts = append(f.Scripts, name)
		if !exists(path.Join(firstbootState, name)) {
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
// server certificate: an RSA key's modulus length, an EC key's curve size.
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
		bits, err := keyBits(b.Bytes)
		if err != nil {
			return 0, fmt.Sprintf("%s: %v", serverCert, err)
		}
		return bits, ""
	}
}

// The certificate down to its subjectPublicKeyInfo (RFC 5280 4.1), read
// with encoding/asn1: crypto/x509 would link net and most of crypto into
// the binary, and its initialisation runs at every start, for a key size.
type (
	asn1Certificate struct {
		TBS    asn1TBS
		SigAlg asn1.RawValue
		Sig    asn1.BitString
	}
	asn1TBS struct {
		Version   int `asn1:"optional,explicit,default:0,tag:0"`
		Serial    asn1.RawValue
		SigAlg    asn1.RawValue
		Issuer    asn1.RawValue
		Validity  asn1.RawValue
		Subject   asn1.RawValue
		PublicKey struct {
			Algorithm struct {
				OID    asn1.ObjectIdentifier
				Params asn1.RawValue `asn1:"optional"`
			}
			Key asn1.BitString
		}
		IssuerUID  asn1.BitString  `asn1:"optional,tag:1"`
		SubjectUID asn1.BitString  `asn1:"optional,tag:2"`
		Extensions []asn1.RawValue `asn1:"optional,explicit,tag:3"`
	}
)

var (
	oidRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidEC    = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	ecCurves = map[string]int{"1.2.840.10045.3.1.7": 256, "1.3.132.0.33": 224, "1.3.132.0.34": 384, "1.3.132.0.35": 521}
)

// keyBits is the key size of a DER certificate, as OpenSSL's
// EVP_PKEY_bits gives it.
func keyBits(der []byte) (int, error) {
	var c asn1Certificate
	if rest, err := asn1.Unmarshal(der, &c); err != nil {
		return 0, fmt.Errorf("not a certificate: %w", err)
	} else if len(rest) > 0 {
		return 0, errors.New("not a certificate: trailing data")
	}
	alg := c.TBS.PublicKey.Algorithm
	switch {
	case alg.OID.Equal(oidRSA):
		var k struct {
			N *big.Int
			E int
		}
		if _, err := asn1.Unmarshal(c.TBS.PublicKey.Key.RightAlign(), &k); err != nil || k.N == nil || k.N.Sign() <= 0 {
			return 0, fmt.Errorf("RSA public key: %v", err)
		}
		return k.N.BitLen(), nil
	case alg.OID.Equal(oidEC):
		var curve asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(alg.Params.FullBytes, &curve); err != nil {
			return 0, fmt.Errorf("EC public key: no named curve: %v", err)
		}
		if n, ok := ecCurves[curve.String()]; ok {
			return n, nil
		}
		return 0, fmt.Errorf("EC curve %s: size not known to xsrescue", curve)
	}
	return 0, fmt.Errorf("public key algorithm %s: size not known to xsrescue", alg.OID)
}

// unresolvedScripts are the entries of etc/firstboot.d (the state
// directory aside) whose stat xsrescue cannot answer for the installer.
func (f FirstbootFacts) unresolvedScripts() []FirstbootPath {
	var out []FirstbootPath
	for _, u := range f.Unresolved {
		if path.Dir(u.Path) == firstbootDir && u.Path != firstbootState {
			out = append(out, u)
		}
	}
	return out
}

// describePaths writes each path with its reason: "PATH (REASON)".
func describePaths(ps []FirstbootPath) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s (%s)", p.Path, p.Reason))
	}
	return out
}
