#!/usr/bin/python
# -*- coding: utf-8 -*-
# Documentation only: the module itself is the static xsrescue binary
# (plugins/modules/xsrescue_facts, added by scripts/build-collection.sh), which
# Ansible runs as a binary module. Options are the command's long flags
# with underscores.

DOCUMENTATION = r'''
module: xsrescue_facts
short_description: Inspect a disk and diagnose it (xsrescue disk inspect + doctor) into ansible_facts.xsrescue
description:
  - 'Runs C(xsrescue disk inspect DISK) and C(xsrescue doctor): partition table, XenServer roles and markers, findings and the plan of exact commands to run next.'
  - 'Read-only: it never writes a byte, in check mode or not.'
  - 'Sets C(ansible_facts.xsrescue) to C({disk: ..., doctor: ..., problems: bool}); doctor''s exit status 4 (problems found) does not fail the task.'
version_added: 0.1.0
author: xsrescue maintainers
options:
  for_installer:
    description:
      - Plan for the installer of this version (C(--for-installer)), e.g. C(5.0).
    type: str
  backup_root:
    description:
      - 'With I(root): an already mounted backup partition (C(--backup-root)).'
    type: path
  save_dir:
    description:
      - Directory for the images and reference databases the plan writes (C(--save-dir)).
    type: path
  sector_size:
    description:
      - 'Logical sector size of a DOS-partitioned image (C(disk inspect --sector-size)): 512 or 4096.'
    type: int
  journal:
    description:
      - The journal to look for saved partition images in (C(--journal)).
    type: path
extends_documentation_fragment:
  - xsrescue.rescue.target
'''

EXAMPLES = r'''
- name: Diagnose the disk
  xsrescue.rescue.xsrescue_facts:
    disk: /dev/sda
    for_installer: "5.0"
    save_dir: /mnt/rescue

- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ ansible_facts.xsrescue.doctor.plan }}"
'''

RETURN = r'''
changed:
  description: Always false.
  returned: always
  type: bool
rc:
  description: Exit status of doctor (0 no problems, 4 problems found).
  returned: always
  type: int
msg:
  description: Whether problems were found.
  returned: always
  type: str
ansible_facts:
  description: The facts set.
  returned: always
  type: complex
  contains:
    xsrescue:
      description: C(disk) (disk inspect's document, with I(disk)), C(doctor) (doctor's document) and C(problems).
      returned: always
      type: dict
'''
