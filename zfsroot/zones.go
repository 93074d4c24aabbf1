package zfsroot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xsrescue/xsrescue/internal/xerr"
)

// ZoneEntry is one zone of /etc/zones/index as illumos getzoneent reads
// it: zonename:state:zonepath:uuid, a field double-quoted when it
// contains ':'.
type ZoneEntry struct {
	Line     int    `json:"line"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Zonepath string `json:"zonepath"`
	UUID     string `json:"uuid,omitempty"` // "" when absent or cleared
	// UUIDCleared: the uuid field was not empty but uuid_parse rejects
	// it, so zoneadm sees no uuid.
	UUIDCleared string `json:"uuid_cleared,omitempty"`
}

// SkippedLine is an index line that getzoneent skips, kept with why.
type SkippedLine struct {
	Line   int    `json:"line"`
	Text   string `json:"text"`
	Reason string `json:"reason"`
}

// ZoneIndex is a parsed /etc/zones/index. Comments are not entries;
// skipped lines are reported, never dropped silently.
type ZoneIndex struct {
	Zones   []ZoneEntry
	Skipped []SkippedLine
}

// Limits of illumos libzonecfg (zonecfg_impl.h, zone.h, param.h).
const (
	zonenameMax  = 64
	maxPathLen   = 1024
	maxIndexLen  = zonenameMax + 14 + maxPathLen + 37 + 3 // MAX_INDEX_LEN: fgets reads at most 1141 bytes
	maxIndexSize = 64 << 20
)

// ParseZoneIndex reads an index file exactly as illumos
// getzoneent_private does (illumos-gate 01a4de58
// usr/src/lib/libzonecfg/common/getzoneent.c): fgets in MAX_INDEX_LEN
// pieces, a piece without '\r' or '\n' skipped as too long (so is a last
// line without a newline: a truncated index), '#' in column 1 a comment,
// the fields split by gettok, the name non-empty and shorter than 64,
// only the states configured, incomplete and installed, the zonepath
// shorter than 1024 and not checked further, a uuid uuid_parse rejects
// cleared. name is used in messages.
func ParseZoneIndex(r io.Reader, name string) (*ZoneIndex, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxIndexSize {
		return nil, xerr.Invalidf("%s: larger than %d bytes: not a zone index", name, maxIndexSize)
	}
	idx := &ZoneIndex{}
	line := 1
	for len(data) > 0 {
		// fgets: up to and including '\n', at most maxIndexLen-1 bytes.
		n := bytes.IndexByte(data, '\n') + 1
		if n == 0 || n > maxIndexLen-1 {
			n = min(len(data), maxIndexLen-1)
		}
		piece := data[:n]
		data = data[n:]
		at := line
		if piece[len(piece)-1] == '\n' {
			line++
		}
		// C string functions stop at a NUL byte.
		nul := bytes.IndexByte(piece, 0)
		if nul >= 0 {
			piece = piece[:nul]
		}
		text := strings.TrimRight(string(piece), "\r\n")
		cut := bytes.IndexAny(piece, "\r\n")
		if cut < 0 {
			reason := fmt.Sprintf("no line end within %d bytes: getzoneent skips it as too long", maxIndexLen-1)
			if nul >= 0 {
				reason = "a NUL byte before the line end: getzoneent skips the line"
			} else if len(data) == 0 && len(piece) < maxIndexLen-1 {
				reason = "the last line has no newline (a truncated index?): getzoneent skips it"
			}
			idx.Skipped = append(idx.Skipped, SkippedLine{Line: at, Text: text, Reason: reason})
			continue
		}
		buf := string(piece[:cut])
		if strings.HasPrefix(buf, "#") {
			continue
		}
		e, reason := parseZoneLine(buf)
		if reason != "" {
			idx.Skipped = append(idx.Skipped, SkippedLine{Line: at, Text: buf, Reason: reason})
			continue
		}
		e.Line = at
		idx.Zones = append(idx.Zones, e)
	}
	return idx, nil
}

// gettok is libzonecfg's gettok: a field up to the next ':', or, when it
// starts with '"', up to the closing quote (whatever follows the quote up
// to the next ':' is dropped). more is false after the last field.
func gettok(s string, more bool) (tok, rest string, next bool) {
	if !more {
		return "", "", false
	}
	if strings.HasPrefix(s, `"`) {
		s = s[1:]
		q := strings.IndexByte(s, '"')
		if q < 0 {
			return s, "", false // unterminated: the rest of the line
		}
		tok, s = s[:q], s[q+1:]
		if c := strings.IndexByte(s, ':'); c >= 0 {
			return tok, s[c+1:], true
		}
		return tok, "", false
	}
	if c := strings.IndexByte(s, ':'); c >= 0 {
		return s[:c], s[c+1:], true
	}
	return s, "", false
}

func parseZoneLine(line string) (ZoneEntry, string) {
	var e ZoneEntry
	rest, more := line, true
	e.Name, rest, more = gettok(rest, more)
	if e.Name == "" || len(e.Name) >= zonenameMax {
		return e, fmt.Sprintf("zone name empty or %d characters or longer", zonenameMax)
	}
	e.State, rest, more = gettok(rest, more)
	switch e.State {
	case "configured", "incomplete", "installed":
	case "":
		return e, "empty state"
	case "unavailable":
		return e, `state "unavailable" (a Solaris 11 state): illumos getzoneent skips the zone`
	default:
		return e, fmt.Sprintf("state %q is not configured, incomplete or installed", e.State)
	}
	e.Zonepath, rest, more = gettok(rest, more)
	if len(e.Zonepath) >= maxPathLen {
		return e, fmt.Sprintf("zonepath %d characters or longer", maxPathLen)
	}
	uuid, _, _ := gettok(rest, more)
	if uuidParse(uuid) {
		e.UUID = uuid
	} else {
		e.UUIDCleared = uuid
	}
	return e, ""
}

// uuidParse is illumos libuuid uuid_parse (illumos-gate 0b5ce10a
// usr/src/lib/libuuid/common/uuid.c): 36 characters, '-' at 8, 13, 18
// and 23, hex digits elsewhere.
func uuidParse(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
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
