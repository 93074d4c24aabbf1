package main

import (
	"strings"

	"github.com/urfave/cli/v3"
)

// examples are the EXAMPLES section of each command's --help and of the
// man page: real command lines (TestExamples checks that each names an
// existing command and only flags it has).
var examples = map[string][]string{
	"xsrescue": {
		"xsrescue doctor --disk /dev/sda --for-installer 5.0 --save-dir /mnt/usb",
		"xsrescue disk inspect /dev/sda --json",
		"xsrescue journal undo 7 --disk /dev/sda --partition 1 --yes",
	},
	"xsrescue answerfile": {
		"xsrescue answerfile upgrade --disk /dev/sda --source http://repo.example.com/xs50/ -o answer.xml",
		"xsrescue answerfile restore --disk /dev/sda --for-installer 7.1 -o restore.xml",
	},
	"xsrescue answerfile upgrade": {
		"xsrescue answerfile upgrade --disk /dev/sda --source http://repo.example.com/xs50/ -o answer.xml",
		"xsrescue answerfile upgrade --disk xs55.img --as disk/by-id/scsi-SATA_X --source local --dry-run",
	},
	"xsrescue answerfile restore": {
		"xsrescue answerfile restore --disk /dev/sda",
		"xsrescue answerfile restore --disk /dev/sda --for-installer 7.1 -o restore.xml",
	},
	"xsrescue completion": {
		"xsrescue completion bash > /etc/bash_completion.d/xsrescue",
		"xsrescue completion zsh > \"${fpath[1]}/_xsrescue\"",
		"xsrescue completion fish > ~/.config/fish/completions/xsrescue.fish",
	},
	"xsrescue demo": {
		"sudo xsrescue demo",
		"xsrescue demo --json --keep",
	},
	"xsrescue disk": {
		"xsrescue disk inspect /dev/sda",
		"xsrescue disk save-partition /dev/sda --role backup -o /mnt/usb/sda2.img",
	},
	"xsrescue disk inspect": {
		"xsrescue disk inspect /dev/sda",
		"xsrescue disk inspect xs55.img --json",
		"xsrescue disk inspect aix.img --sector-size 4096",
	},
	"xsrescue disk save-partition": {
		"xsrescue disk save-partition /dev/sda --role backup -o /mnt/usb/sda2.img",
		"xsrescue disk save-partition /dev/sda --partition 1 -o /mnt/usb/sda1.img.zst --compress",
		"xsrescue disk save-partition /dev/sda --role backup -o /mnt/usb/sda2.img --dry-run",
	},
	"xsrescue disk restore-partition": {
		"xsrescue disk restore-partition /dev/sda --partition 2 --from /mnt/usb/sda2.img --dry-run",
		"xsrescue disk restore-partition /dev/sda --partition 2 --from /mnt/usb/sda2.img --yes",
	},
	"xsrescue doctor": {
		"xsrescue doctor --disk /dev/sda --for-installer 5.0 --save-dir /mnt/usb",
		"xsrescue doctor --root /mnt/root --backup-root /mnt/backup --for-installer 7.1 --json",
		"xsrescue doctor --disk xs55.img",
	},
	"xsrescue guest": {
		"xsrescue guest check --root /mnt/guest --domain-config /etc/xen/centos46",
		"xsrescue guest fix --root /mnt/guest --dry-run",
	},
	"xsrescue guest check": {
		"xsrescue guest check --root /mnt/guest",
		"xsrescue guest check --disk guest.img --domain-config /etc/xen/centos46 --json",
	},
	"xsrescue guest fix": {
		"xsrescue guest fix --root /mnt/guest --domain-config /etc/xen/centos46 --dry-run",
		"xsrescue guest fix --root /mnt/guest --only tls --only services --yes",
		"xsrescue guest fix --disk guest.img --yes --json",
	},
	"xsrescue journal": {
		"xsrescue journal list --disk /dev/sda",
		"xsrescue journal undo 7 --disk /dev/sda --partition 1 --yes",
	},
	"xsrescue journal list": {
		"xsrescue journal list --disk /dev/sda",
		"xsrescue journal list --journal /mnt/usb/journal.db --json",
	},
	"xsrescue journal show": {
		"xsrescue journal show 7 --disk /dev/sda",
		"xsrescue journal show 7 --root /mnt/root --json",
	},
	"xsrescue journal undo": {
		"xsrescue journal undo 7 --disk /dev/sda --partition 1 --dry-run",
		"xsrescue journal undo 7 --root /mnt/root --yes",
		"xsrescue journal undo 3 --journal /mnt/usb/journal.db --yes",
	},
	"xsrescue journal recover": {
		"xsrescue journal recover --disk /dev/sda --dry-run",
		"xsrescue journal recover --root /mnt/root --yes",
	},
	"xsrescue journal export": {
		"xsrescue journal export 7 --disk /dev/sda -o /mnt/usb/op7.tar.gz",
		"xsrescue journal export 7 - --root /mnt/root > op7.tar.gz",
	},
	"xsrescue man": {
		"xsrescue man > xsrescue.8 && man ./xsrescue.8",
		"xsrescue man | man -l -",
	},
	"xsrescue odm": {
		"xsrescue odm ghosts --odm /mnt/usb/odm --dev /mnt/aix/dev",
		"xsrescue odm purge --odm /mnt/usb/odm --dev /mnt/aix/dev --major 43 -o /mnt/usb/purge --dry-run",
	},
	"xsrescue odm ghosts": {
		"xsrescue odm ghosts --odm /mnt/usb/odm --dev /mnt/aix/dev",
		"xsrescue odm ghosts --odm /mnt/usb/odm --dev-listing dev.ls --json",
	},
	"xsrescue odm purge": {
		"xsrescue odm purge --odm /mnt/usb/odm --dev /mnt/aix/dev --major 43 -o /mnt/usb/purge --dry-run",
		"xsrescue odm purge --odm /mnt/usb/odm --dev /mnt/aix/dev --all-ghosts -o /mnt/aix/var/adm/xsrescue --yes",
	},
	"xsrescue statedb": {
		"xsrescue statedb show --disk /dev/sda",
		"xsrescue statedb patch --disk /dev/sda --like fresh50.db --drop-data --dry-run",
	},
	"xsrescue statedb show": {
		"xsrescue statedb show --disk /dev/sda",
		"xsrescue statedb show /mnt/usb/state.db --json",
	},
	"xsrescue statedb diff": {
		"xsrescue statedb diff state.db fresh50.db",
		"xsrescue statedb diff state.db fresh50.db --rows --json",
	},
	"xsrescue statedb check": {
		"xsrescue statedb check --disk /dev/sda --for-release 5.0",
		"xsrescue statedb check state.db --like fresh71.db --json",
	},
	"xsrescue statedb patch": {
		"xsrescue statedb patch --disk /dev/sda --like fresh50.db --drop-data --dry-run",
		"xsrescue statedb patch --root /mnt/root --to-release 7.1 --set-aside --yes",
		"xsrescue statedb patch state.db --to-release 5.0 -o patched.db",
	},
	"xsrescue version": {
		"xsrescue version show --disk /dev/sda",
		"xsrescue version set --disk /dev/sda --for-installer 5.0 --dry-run",
	},
	"xsrescue version show": {
		"xsrescue version show --disk /dev/sda",
		"xsrescue version show --disk /dev/sda --for-installer 6.2",
		"xsrescue version show --root /mnt/root --json",
	},
	"xsrescue version set": {
		"xsrescue version set --disk /dev/sda --for-installer 5.0 --dry-run",
		"xsrescue version set --disk /dev/sda --for-installer 6.5 --mark-firstboot-done --yes",
		"xsrescue version set --root /mnt/root --to 5.0.0-10918p --yes",
	},
	"xsrescue version find": {
		"xsrescue version find --disk /dev/sda 15119p",
		"xsrescue version find --root /mnt/root 5.5.0 15119 --json",
	},
	"xsrescue zfs": {
		"xsrescue zfs labels /dev/sdb",
		"xsrescue zfs labels solaris.img --partition 1 --json",
	},
	"xsrescue zfs labels": {
		"xsrescue zfs labels /dev/sdb",
		"xsrescue zfs labels solaris.img --partition 1 --json",
	},
	"xsrescue zone": {
		"xsrescue zone list --root /mnt/gz",
		"xsrescue zone publishers --root /mnt/gz/zones/z1/root --global-root /mnt/gz",
	},
	"xsrescue zone list": {
		"xsrescue zone list --root /mnt/gz",
		"xsrescue zone list --root /mnt/gz --global-be solaris-1 --json",
	},
	"xsrescue zone publishers": {
		"xsrescue zone publishers --root /mnt/gz/zones/z1/root",
		"xsrescue zone publishers --root /mnt/gz/zones/z1/root --global-root /mnt/gz --json",
	},
	"xsrescue zone unset-publisher": {
		"xsrescue zone unset-publisher za21342 --root /mnt/gz/zones/z1/root --dry-run",
		"xsrescue zone unset-publisher za21342 --root /mnt/gz/zones/z1/root --yes",
	},
	"xsrescue zone set-sticky": {
		"xsrescue zone set-sticky opensolaris.org false --root /mnt/gz/zones/z1/root --dry-run",
		"xsrescue zone set-sticky opensolaris.org false --root /mnt/gz/zones/z1/root --yes",
	},
	"xsrescue zone restore-etc": {
		"xsrescue zone restore-etc --root /mnt/gz/zones/z1/root --snapshot rpool/zones/z1/ROOT/zbe-1@before --dry-run",
		"xsrescue zone restore-etc --root /mnt/gz/zones/z1/root --snapshot rpool/zones/z1/ROOT/zbe-1@before --paths etc/passwd --yes",
	},
}

// examplesHelp is the EXAMPLES section of a command's help ("" for none).
func examplesHelp(full string) string {
	ex := examples[full]
	if len(ex) == 0 {
		return ""
	}
	return "EXAMPLES:\n   " + strings.Join(ex, "\n   ") + "\n"
}

// addExamples puts each command's EXAMPLES before its EXIT STATUS (the
// common one that ends most descriptions), or at the end.
func addExamples(c *cli.Command, full string) {
	if ex := examplesHelp(full); ex != "" {
		desc := strings.TrimRight(c.Description, "\n")
		if i := strings.LastIndex(desc, "EXIT STATUS:"); i >= 0 {
			c.Description = desc[:i] + ex + "\n" + desc[i:] + "\n"
		} else if desc == "" {
			c.Description = ex
		} else {
			c.Description = desc + "\n\n" + ex
		}
	}
	for _, sub := range c.Commands {
		addExamples(sub, full+" "+sub.Name)
	}
}
