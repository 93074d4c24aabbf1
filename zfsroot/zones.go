package zfsroot

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// ZoneEntry is one zone line of /etc/zones/index:
// zonename:state:zonepath:uuid, the zonepath double-quoted when it contains
// ':' (illumos getzoneent.c).
type ZoneEntry struct {
	Line     int    `json:"line"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Zonepath string `json:"zonepath"`
	UUID     string `json:"uuid,omitempty"`
}

// SkippedLine is an index line that zoneadm would ignore too, kept with why.
type SkippedLine struct {
	Line   int    `json:"line"`
	Text   string `json:"text"`
	Reason string `json:"reason"`
}

// ZoneIndex is a parsed /etc/zones/index. Comments are not entries;
// unknown lines are reported, never dropped silently.
type ZoneIndex struct {
	Zones   []ZoneEntry
	Skipped []SkippedLine
}

// storedStates are the states putzoneent writes (Solaris 11 adds
// "unavailable").
var storedStates = map[string]bool{"configured": true, "incomplete": true, "installed": true, "unavailable": true}

// ParseZoneIndex reads an index file; name is used in messages.
func ParseZoneIndex(r io.Reader, name string) (*ZoneIndex, error) {
	idx := &ZoneIndex{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, reason := parseZoneLine(line)
		if reason != "" {
			idx.Skipped = append(idx.Skipped, SkippedLine{Line: n, Text: line, Reason: reason})
			continue
		}
		e.Line = n
		idx.Zones = append(idx.Zones, e)
	}
	if err := sc.Err(); err != nil {
		return nil, xerr.Invalidf("%s line %d: %w", name, n+1, err)
	}
	return idx, nil
}

func parseZoneLine(line string) (ZoneEntry, string) {
	var e ZoneEntry
	var ok bool
	if e.Name, line, ok = strings.Cut(line, ":"); !ok || e.Name == "" {
		return e, "no zone name"
	}
	if e.State, line, ok = strings.Cut(line, ":"); !ok {
		return e, "no zonepath field"
	}
	if !storedStates[e.State] {
		return e, fmt.Sprintf("state %q is not a stored zone state", e.State)
	}
	if strings.HasPrefix(line, `"`) {
		end := strings.Index(line[1:], `"`)
		if end < 0 {
			return e, "unterminated quoted zonepath"
		}
		e.Zonepath, line = line[1:1+end], line[2+end:]
		line = strings.TrimPrefix(line, ":")
		e.UUID = line
	} else {
		e.Zonepath, e.UUID, _ = strings.Cut(line, ":")
	}
	if !strings.HasPrefix(e.Zonepath, "/") {
		return e, fmt.Sprintf("zonepath %q is not absolute", e.Zonepath)
	}
	return e, ""
}

// ZoneConfig is what xsrescue needs from /etc/zones/<zone>.xml.
type ZoneConfig struct {
	Name     string   `json:"name"`
	Zonepath string   `json:"zonepath"`
	Brand    string   `json:"brand"`
	Autoboot string   `json:"autoboot,omitempty"`
	IPType   string   `json:"ip_type,omitempty"`
	Datasets []string `json:"datasets,omitempty"`
}

type zoneXML struct {
	XMLName  xml.Name `xml:"zone"`
	Name     string   `xml:"name,attr"`
	Zonepath string   `xml:"zonepath,attr"`
	Brand    string   `xml:"brand,attr"`
	Autoboot string   `xml:"autoboot,attr"`
	IPType   string   `xml:"ip-type,attr"`
	Datasets []struct {
		Name string `xml:"name,attr"`
	} `xml:"dataset"`
}

// ParseZoneXML reads a zone configuration; name is used in messages.
func ParseZoneXML(r io.Reader, name string) (*ZoneConfig, error) {
	var z zoneXML
	dec := xml.NewDecoder(io.LimitReader(r, 16<<20))
	if err := dec.Decode(&z); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, xerr.Invalidf("%s line %d: %s", name, se.Line, se.Msg)
		}
		return nil, xerr.Invalidf("%s: %w", name, err)
	}
	if z.Zonepath == "" {
		return nil, xerr.Invalidf("%s: <zone> has no zonepath attribute", name)
	}
	c := &ZoneConfig{Name: z.Name, Zonepath: z.Zonepath, Brand: z.Brand, Autoboot: z.Autoboot, IPType: z.IPType}
	for _, d := range z.Datasets {
		c.Datasets = append(c.Datasets, d.Name)
	}
	return c, nil
}

// ZoneRoot is a zone's root directory inside the global zone: zonepath/root
// (the brand scripts' ZONEROOT).
func ZoneRoot(zonepath string) string { return strings.TrimSuffix(zonepath, "/") + "/root" }
