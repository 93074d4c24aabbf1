package main

import (
	"context"
	"errors"

	"github.com/urfave/cli/v3"

	"github.com/xsrescue/xsrescue/journal"
	"github.com/xsrescue/xsrescue/target"
)

// applyPlan is the flow every mutating command goes through: render the plan
// as a diff; stop there on --dry-run or when the plan is empty ("already as
// requested", exit 0); confirm (TTY prompt or --yes; no TTY and no --yes is a
// refusal, exit 3); open the journal (--journal, $XSRESCUE_JOURNAL, or
// var/lib/xsrescue/journal.db inside the root); Apply; print the op id, the
// journal path and each change with its hashes. In --json mode it prints
// nothing and the caller embeds the result as "op" in its own document.
// It returns nil, nil for a dry run or an empty plan.
func applyPlan(ctx context.Context, cmd *cli.Command, tgt *target.Target, plan *journal.Plan) (*journal.Result, error) {
	return nil, errors.New("applyPlan: not implemented yet")
}
