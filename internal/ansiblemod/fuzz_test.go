package ansiblemod

import (
	"strings"
	"testing"
)

// FuzzArgs: any arguments file is a result or an error naming the file,
// never a panic; every flag made from it is one --name[=value] word.
func FuzzArgs(f *testing.F) {
	f.Add([]byte(`{"disk": "/dev/sda", "only": ["tls", "services"], "partition": 1, "_ansible_check_mode": true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseArgs("args", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "arguments file args: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		flags, err := a.flags()
		if err != nil {
			return
		}
		for _, fl := range flags {
			name, _, _ := strings.Cut(fl, "=")
			if !strings.HasPrefix(fl, "--") || strings.ContainsAny(name, " \n_") {
				t.Fatalf("flag %q from %q", fl, b)
			}
		}
	})
}

// FuzzDocument: any command output reads as a document or a failure,
// never a panic; a diff's before and after hold only lines of the text.
func FuzzDocument(f *testing.F) {
	f.Add([]byte(mutationDoc), "", false)
	f.Add([]byte(`{"op": {"undo": "xsrescue journal undo 1 --root '/a'\''b'"}}`), "", false)
	f.Add([]byte("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"), "dry run: nothing was changed (1 change(s) planned on x)", true)
	f.Fuzz(func(t *testing.T, stdout []byte, stderr string, dryRun bool) {
		d := readDocument(output{stdout: stdout, stderr: stderr}, dryRun)
		_ = d.result(output{stdout: stdout, stderr: stderr}, dryRun)
		for _, df := range unifiedDiffs(string(stdout), "") {
			if !strings.Contains(string(stdout), strings.TrimSuffix(df.Before, "\n")) && !strings.Contains(string(stdout), strings.Split(df.Before, "\n")[0]) {
				t.Fatalf("before %q is not from the text", df.Before)
			}
		}
	})
}
