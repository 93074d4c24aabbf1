package release

import "testing"

func TestTableParses(t *testing.T) {
	t.Parallel()
	for _, r := range table {
		if _, err := ParseVersion(r.Product); err != nil {
			t.Errorf("%s: product: %v", r.Name, err)
		}
		if r.Platform != "" {
			if _, err := ParseVersion(r.Platform); err != nil {
				t.Errorf("%s: platform: %v", r.Name, err)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		schema int
		ok     bool
	}{
		{"5.0", 55, true}, {"5.0.0", 55, true}, {"5.5.0", 57, true}, {"george", 57, true},
		{"6.2", 67, true}, {"7.1", 108, true}, {"8.2.1", 602, true}, {"9.9", 0, false}, {"x", 0, false},
	}
	for _, tt := range tests {
		r, ok := Lookup(tt.in)
		if ok != tt.ok || r.Schema != tt.schema {
			t.Errorf("Lookup(%q) = %d,%v; want %d,%v", tt.in, r.Schema, ok, tt.schema, tt.ok)
		}
	}
}

func TestForSchema(t *testing.T) {
	t.Parallel()
	if got := ForSchema(109); len(got) != 1 || got[0].Codename != "ely" {
		t.Errorf("ForSchema(109) = %v", got)
	}
	if got := ForSchema(12345); len(got) != 0 {
		t.Errorf("ForSchema(12345) = %v", got)
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"5.5.0", "5.0.0", 1}, {"2.1.0", "2.1.0", 0}, {"2.1", "2.1.0", -1}, {"10.0", "9.9", 1}, {"1.0.99", "1.9.0", -1},
	}
	for _, tt := range tests {
		if got := Compare(mustParse(tt.a), mustParse(tt.b)); got != tt.want {
			t.Errorf("Compare(%s,%s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseVersionRejects(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "5..0", "5.0a", "-1", "5.0-123", " 5", "1234567890"} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) accepted", s)
		}
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	r, _ := Lookup("5.5")
	if !r.OldManifest() || r.CTimes() || !r.LegacySpaces() || r.UnknownColumnFatal() {
		t.Errorf("5.5 flags wrong: %+v", r)
	}
	r, _ = Lookup("7.4")
	if r.OldManifest() || !r.CTimes() || r.LegacySpaces() || !r.UnknownColumnFatal() {
		t.Errorf("7.4 flags wrong: %+v", r)
	}
}

func TestOxfordSchemaUnknown(t *testing.T) {
	t.Parallel()
	r, ok := Lookup("oxford")
	if !ok || r.SchemaKnown() {
		t.Errorf("5.6 SP2: %+v", r)
	}
	if got := ForSchema(62); len(got) != 0 {
		t.Errorf("ForSchema(62) = %v: 62 was never released", got)
	}
}
