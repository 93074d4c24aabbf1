package guestfix

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/xsrescue/xsrescue/plan"
)

// The dbus package's %pre runs
//
//	useradd -c 'System message bus' -u 81 -s /sbin/nologin -r -d '/' dbus
//
// and hides its failure (2>/dev/null || :), so an install without /dev/null
// leaves dbus without its user and messagebus (and hald) fail to start.
const (
	dbusUser    = "dbus"
	dbusID      = 81
	dbusComment = "System message bus"
)

// dbusFiles are the files whose presence means dbus is installed.
var dbusFiles = []string{"etc/rc.d/init.d/messagebus", "etc/dbus-1/system.conf", "usr/bin/dbus-daemon-1", "bin/dbus-daemon", "usr/bin/dbus-daemon"}

func (g *guest) dbusUser() (outcome, error) {
	const rule = "dbus-user"
	var o outcome
	installed := ""
	for _, p := range dbusFiles {
		ok, err := g.exists(p)
		if err != nil {
			return o, err
		}
		if ok {
			installed = p
			break
		}
	}
	if installed == "" {
		o.findings = append(o.findings, finding(rule, "", OK, "dbus is not installed (none of %s)", strings.Join(dbusFiles, ", ")))
		return o, nil
	}
	dbs := map[string]*AccountFile{}
	for _, db := range []struct {
		name   string
		format AccountFormat
	}{{"etc/passwd", Passwd}, {"etc/group", Group}, {"etc/shadow", Shadow}, {"etc/gshadow", Gshadow}} {
		data, shown, ok, err := g.read(db.name)
		switch {
		case o.refuse(db.name, err):
			continue
		case err != nil:
			return o, err
		case !ok:
			continue
		}
		a, err := ParseAccounts(bytes.NewReader(data), shown, db.format)
		switch {
		case o.refuse(db.name, err):
			continue
		case err != nil:
			return o, err
		}
		dbs[db.name] = a
	}
	if len(o.problems) > 0 {
		return o, nil
	}
	passwd, group := dbs["etc/passwd"], dbs["etc/group"]
	if passwd == nil || group == nil {
		o.findings = append(o.findings, finding(rule, "", Broken, "dbus is installed (%s) but etc/passwd or etc/group is missing", installed))
		return o, nil
	}

	// dbus-daemon looks its user up by name (getpwnam of <user> in
	// system.conf) and runs with that account's uid and primary gid,
	// whatever their numbers: only a missing dbus account is broken.
	var problems, fixed []string
	user, haveUser := passwd.Lookup(dbusUser)
	gid := dbusID
	switch e, ok := group.Lookup(dbusUser); {
	case haveUser:
		gid = -1 // the account's own gid stands; no group is added
	case ok:
		gid = e.ID()
	default:
		if e, ok := group.ByID(dbusID); ok {
			// useradd -r would pick another id; which one is a person's call.
			problems = append(problems, fmt.Sprintf("etc/group line %d: gid %d belongs to %s", e.Line, dbusID, e.Fields[0]))
			gid = -1
			break
		}
		fixed = append(fixed, "etc/group")
		o.changes = append(o.changes, plan.Change{Kind: plan.Write, Path: "etc/group", Content: group.Appended(fmt.Sprintf("%s:x:%d:", dbusUser, dbusID)), Why: "group dbus, as useradd -r adds it"})
		if gs := dbs["etc/gshadow"]; gs != nil {
			if _, ok := gs.Lookup(dbusUser); !ok {
				o.changes = append(o.changes, plan.Change{Kind: plan.Write, Path: "etc/gshadow", Content: gs.Appended(dbusUser + ":!::"), Why: "group dbus, as useradd -r adds it"})
			}
		}
	}
	if !haveUser {
		if e, ok := passwd.ByID(dbusID); ok {
			problems = append(problems, fmt.Sprintf("etc/passwd line %d: uid %d belongs to %s", e.Line, dbusID, e.Fields[0]))
		} else if gid >= 0 {
			fixed = append(fixed, "etc/passwd")
			o.changes = append(o.changes, plan.Change{Kind: plan.Write, Path: "etc/passwd", Content: passwd.Appended(fmt.Sprintf("%s:x:%d:%d:%s:/:/sbin/nologin", dbusUser, dbusID, gid, dbusComment)), Why: "user dbus, as the dbus package's useradd adds it"})
		}
	}
	if sh := dbs["etc/shadow"]; sh != nil && !haveUser {
		if _, ok := sh.Lookup(dbusUser); !ok {
			days := g.now().Unix() / 86400
			fixed = append(fixed, "etc/shadow")
			// useradd -r leaves the aging fields empty for a system account.
			o.changes = append(o.changes, plan.Change{Kind: plan.Write, Path: "etc/shadow", Content: sh.Appended(fmt.Sprintf("%s:!!:%d::::::", dbusUser, days)), Why: "locked password for dbus, as useradd adds it"})
		}
	}
	switch {
	case len(problems) > 0:
		o.findings = append(o.findings, finding(rule, "", Broken, "dbus is installed (%s) but %s: fix the accounts by hand", installed, strings.Join(problems, "; ")))
		o.changes = nil
	case len(fixed) > 0:
		o.findings = append(o.findings, fixing(finding(rule, "", Broken, "dbus is installed (%s) but the dbus user (uid %d) is missing from %s: messagebus cannot start", installed, dbusID, strings.Join(fixed, ", "))))
	case user.ID() == dbusID:
		o.findings = append(o.findings, finding(rule, "", OK, "dbus is installed (%s) and user dbus (uid %d) exists", installed, dbusID))
	default:
		o.findings = append(o.findings, finding(rule, "", OK, "dbus is installed (%s) and user dbus exists (etc/passwd line %d, uid %s: dbus-daemon looks the user up by name, any uid works)", installed, user.Line, user.Fields[2]))
	}
	return o, nil
}
