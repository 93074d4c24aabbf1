package main

// demoDoc is the --json document of demo: every command it ran.
type demoDoc struct {
	Dir           string     `json:"dir"`
	Image         string     `json:"image"`
	Root          bool       `json:"root_privileges"`
	Steps         []demoStep `json:"steps"`
	TreeIdentical *bool      `json:"tree_identical"`
	ByteIdentical *bool      `json:"byte_identical"`
	StartSHA      string     `json:"start_fingerprint"`
	EndSHA        string     `json:"end_fingerprint"`
	Failed        []string   `json:"failed"`
}

// demoStep is one command the demo ran.
type demoStep struct {
	Command  string `json:"command"`
	ExitCode int    `json:"exit_code"`
	Skipped  string `json:"skipped,omitempty"`
}
