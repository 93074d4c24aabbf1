package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v3"
)

// newManCommand is the hidden man command: the manual page, rendered from
// the command tree (manpage.go).
func newManCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "man",
		Usage:     "print the manual page (roff) on stdout: xsrescue man | man -l -",
		ArgsUsage: " ",
		Hidden:    true,
		Action: action(0, 0, func(context.Context, []string) error {
			page, err := manPage()
			if err != nil {
				return err
			}
			_, err = io.WriteString(e.stdout, page)
			return err
		}),
	}
}
