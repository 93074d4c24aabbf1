#!/usr/bin/python
# -*- coding: utf-8 -*-
# Documentation only: the module itself is the static xsrescue binary
# (plugins/modules/xsrescue_version, added by scripts/build-collection.sh), which
# Ansible runs as a binary module. Options are the command's long flags
# with underscores.

DOCUMENTATION = r'''
module: xsrescue_version
short_description: Rewrite XenServer version markers so an installer accepts the disk (xsrescue version set)
description:
  - 'Runs C(xsrescue version set): rewrites every version marker consistently and, with I(for_installer), repairs what keeps that installer from offering Upgrade.'
  - 'Image the backup partition first (M(xsrescue.rescue.xsrescue_partition_image)): the installer run that follows reformats it.'
version_added: 0.1.0
author: xsrescue maintainers
options:
  to:
    description:
      - The product version C(VERSION[-BUILD]) to write (C(--to)), e.g. C(5.0.0-10918p).
    type: str
  platform_version:
    description:
      - C(PLATFORM_VERSION) to write (C(--platform-version)); default from the release table.
    type: str
  for_installer:
    description:
      - Choose values the installer of this version accepts, repair its gates and check them (C(--for-installer)), e.g. C(5.0).
    type: str
  allow_raise:
    description:
      - Allow a version newer than the installed one (C(--allow-raise)).
    type: bool
    default: false
  mark_firstboot_done:
    description:
      - Mark first-boot scripts that never ran as done (C(--mark-firstboot-done)); read the command WARNING first.
    type: bool
    default: false
  move_active_flag:
    description:
      - Move the DOS active flag from another partition to the root (C(--move-active-flag)).
    type: bool
    default: false
extends_documentation_fragment:
  - xsrescue.rescue.target
  - xsrescue.rescue.common
'''

EXAMPLES = r'''
- name: Make the 5.0 installer accept the disk (check mode shows the diff)
  xsrescue.rescue.xsrescue_version:
    disk: /dev/sda
    for_installer: "5.0"
    journal: /mnt/rescue/{{ inventory_hostname }}.db
  register: version

- name: Keep the undo command lines
  ansible.builtin.set_fact:
    xsrescue_undo: "{{ (xsrescue_undo | default([])) + version.undo }}"
'''

# The results every mutating module returns: contrib/ansible/meta/mutation_return.yml,
# filled in by scripts/build-collection.sh.
RETURN = r'''@mutation_return@'''
