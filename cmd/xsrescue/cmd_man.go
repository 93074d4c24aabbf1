package main

import (
	"context"
	_ "embed"
	"io"

	"github.com/urfave/cli/v3"
)

// manual is the manual page, generated from the command tree by the tests
// (manpage_gen_test.go: go test ./cmd/xsrescue -run TestManPage -update)
// and embedded: the generator (cli-docs, go-md2man, blackfriday) stays out
// of the binary, whose start-up it slowed for every command.
// docs/xsrescue.8 is a link to this file.
//
//go:embed xsrescue.8
var manual string

// newManCommand is the hidden man command: the manual page.
func newManCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "print the manual page (roff) on stdout: xsrescue man | man -l -",
		ArgsUsage: " ",
		Hidden:    true,
		Action: action(0, 0, func(context.Context, []string) error {
			_, err := io.WriteString(e.stdout, manual)
			return err
		}),
	}
}
