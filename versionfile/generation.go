package versionfile

import (
	"github.com/xsrescue/xsrescue/partition"
)

// Tri is yes, no or unknown: what the public history says about a rule of
// one installer.
type Tri int

// Tri values.
const (
	No Tri = iota
	Yes
	Unknown
)

// KeyRule is which inventory keys readInventory reads with inventory[KEY]
// (a missing key raises KeyError and the installation is not listed).
type KeyRule string

// Key rules (docs/version.md, "Required keys").
const (
	// KeysProduct: PRODUCT_NAME, PRODUCT_BRAND, PRODUCT_VERSION, BUILD_NUMBER.
	KeysProduct KeyRule = "product"
	// KeysProductOrPlatform: as KeysProduct when PRODUCT_NAME is there,
	// else PLATFORM_NAME, PLATFORM_VERSION, BUILD_NUMBER (ab1a12040313).
	KeysProductOrPlatform KeyRule = "product-or-platform"
	// KeysPlatform: PLATFORM_VERSION, BUILD_NUMBER (unless optional),
	// PRODUCT_NAME with PRODUCT_BRAND or else PLATFORM_NAME, OEM_VERSION or
	// else PRODUCT_VERSION.
	KeysPlatform KeyRule = "platform"
	// KeysPlatformText: KeysPlatform, and without OEM_VERSION both
	// PRODUCT_VERSION_TEXT and PRODUCT_VERSION (168a127c2764).
	KeysPlatformText KeyRule = "platform-text"
)

// FirstbootRule is ExistingInstallation.isUpgradeable's test that the
// installation finished its first boot.
type FirstbootRule string

// Firstboot rules (docs/version.md, "Firstboot").
const (
	FirstbootNone     FirstbootRule = "none"      // 5.0: no test
	FirstbootCount    FirstbootRule = "count"     // 5.5: as many state files as scripts (5339c6ce64c7)
	FirstbootDirOnly  FirstbootRule = "dir-only"  // 5.6-6.2: the state directory; the per-script test is a no-op
	FirstbootStrict   FirstbootRule = "strict"    // 6.5-8.0: the state directory and a state file per script (454a7079f2ff)
	FirstbootStorage  FirstbootRule = "storage"   // 8.1: strict, or without the directory ran-storage-init (4681befea9ef)
	FirstbootInitDone FirstbootRule = "init-done" // 8.2+: strict, or ran-network-init and ran-storage-init (1249ec10c07d)
)

// RestoreRule is what findXenSourceBackups needs from a partition carrying
// .xen-backup-partition before it offers Restore.
type RestoreRule string

// Restore rules.
const (
	RestorePrimaryDisk RestoreRule = "primary-disk" // 5.0, 5.5: an inventory with PRIMARY_DISK
	RestoreKeys        RestoreRule = "keys"         // XenServerBackup reads the keys of the version rule and PRIMARY_DISK
)

// Generation is one row of the installer model: how one set of host
// installer versions decides whether it offers Upgrade and Restore. Each
// row cites the host-installer (or python-libs) code it transcribes; the
// details are in docs/version.md.
type Generation struct {
	ID        string // e.g. "6.0" (the JSON "generation")
	Era       string // which installers
	Repo      string // the public repository read
	Commit    string // the commit the row was read at (a release's installer: the last main-line commit before its GA)
	NotPublic string // non-empty: the installer was built from code the public history lacks; every rule is unknown
	Root      partition.RootRule
	AnyFS     bool   // the root is mounted without a filesystem type (5.0); else as ext3
	Key       string // the inventory key compared: PRODUCT_VERSION or PLATFORM_VERSION
	Keys      KeyRule
	Build     Tri // BUILD_NUMBER required (KeyError)
	Class     VersionClass
	Min       string // lower bound of Upgrader.upgrades_versions, inclusive
	MaxBelow  bool   // the installer's own version is excluded (5.6, 5.6 FP1)
	Firstboot FirstbootRule
	// FirstbootUncaught: isUpgradeable has no except clause, so an OSError
	// of its os.stat (a dangling symlink in etc/firstboot.d) escapes
	// filter_for_upgradeable_products and the installer stops ("INSTALL
	// FAILED"): 5.6 to 8.0. 5.5 catches it (try/except around
	// runOverStatePartition), 8.1 and later too (4681befea9ef).
	FirstbootUncaught bool
	// XCP: upgrade.py also registers XCPUpgrader (eab10e4, "CP-4843: allow
	// upgrade from XCP 1.6.0", removed by 7613817e230a in the 7.0 line): a
	// product named "XCP" within [XCPMin, the installer's own
	// PLATFORM_VERSION] is offered Upgrade too.
	XCP        bool
	Restore    RestoreRule
	RestoreMin string // findXenSourceBackups' range [RestoreMin, own]; "" = no version check
	// UpgradeKeys are read by prepareUpgrade after Upgrade was chosen: a
	// missing one aborts the upgrade ("Required information ... missing").
	UpgradeKeys []string
	DOSAbort    bool // testUpgradeForbidden: a DOS disk not converted to GPT aborts (e002672f26c2)
	OldLayout   Tri  // prepareTarget: the old layout aborts unless prepare_host_upgrade ran
	SingleSR    bool // probeDisk raises on more than one SR candidate (b0069fc)
	BootMode    bool // XCP-ng: the installer's boot mode must match the installation's
	CertKeySize bool // XCP-ng: the server certificate's key must have 2048 bits or more
	Sources     map[string]string
}

// Gate and check names, as in the JSON contract.
const (
	GateRoot        = "root-partition"
	GateKeys        = "inventory-keys"
	GateVersion     = "version"
	GateProductName = "product-name"
	GateFirstboot   = "firstboot"
	GateBootMode    = "boot-mode"
	GateSingleSR    = "single-sr"

	CheckUpgradeKeys = "upgrade-keys"
	CheckDOSTable    = "dos-table"
	CheckLayout      = "partition-layout"
	CheckCertificate = "server-certificate"
)

const (
	hi  = "xenserver/host-installer"
	xcp = "xcp-ng/host-installer"
)

// upgradeKeys5x: prepareUpgrade of 5.0 and 5.5 also tests BACKUP_PARTITION
// (removed by 38f1b8273710, 2009-10).
var (
	upgradeKeys   = []string{"INSTALLATION_UUID", "CONTROL_DOMAIN_UUID"}
	upgradeKeys5x = []string{"INSTALLATION_UUID", "CONTROL_DOMAIN_UUID", "BACKUP_PARTITION"}
)

// XCPMin is XCPUpgrader's lower bound (product.XCP_1_6_0).
const XCPMin = "1.6.0"

// XCPName is the product name XCPUpgrader upgrades.
const XCPName = "XCP"

// srcXCP is where the 6.2 and 6.5 rows' XCPUpgrader is read.
const srcXCP = "eab10e4 (CP-4843) upgrade.py XCPUpgrader: upgrades_product \"XCP\", [XCP_1_6_0, THIS_PLATFORM_VERSION], in __upgraders__ after ThirdGenUpgrader (ab1a12040313, 20abd302208b; removed by 7613817e230a)"

func src(root, keys, version, name, firstboot, restore, upgrade string) map[string]string {
	return map[string]string{GateRoot: root, GateKeys: keys, GateVersion: version, GateProductName: name,
		GateFirstboot: firstboot, "restore": restore, CheckUpgradeKeys: upgrade}
}

// generations is the installer model, oldest first.
var generations = []*Generation{
	{
		ID: "5.0", Era: "XenServer 5.0 installer", Repo: hi, Commit: "fc4eed16e14f",
		Root: partition.RootFirstPartition, AnyFS: true, Key: "PRODUCT_VERSION", Keys: KeysProduct, Build: Yes,
		Class: ClassThreeArcs, Min: "4.1.0", Firstboot: FirstbootNone, Restore: RestorePrimaryDisk, UpgradeKeys: upgradeKeys5x,
		Sources: src("fc4eed16e14f product.py findXenSourceProducts (partition 1 of each disk, mounted without a type)",
			"fc4eed16e14f product.py findXenSourceProducts: inv['PRODUCT_NAME'], ['PRODUCT_BRAND'], ['PRODUCT_VERSION'], ['BUILD_NUMBER']",
			"fc4eed16e14f product.py Version.from_string; upgrade.py SecondGenUpgrader.upgrades_versions [4.1.0, THIS_PRODUCT_VERSION]",
			"fc4eed16e14f upgrade.py Upgrader.upgrades: upgrades_product == 'xenenterprise'",
			"fc4eed16e14f product.py: no firstboot test before 5339c6ce64c7 (2008-10)",
			"fc4eed16e14f product.py findXenSourceBackups: every partition, .xen-backup-partition, inventory with PRIMARY_DISK",
			"fc4eed16e14f upgrade.py SecondGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "5.5", Era: "XenServer 5.5 installer", Repo: hi, Commit: "aad499a03110",
		Root: partition.RootFirstPartition, Key: "PRODUCT_VERSION", Keys: KeysProduct, Build: Yes,
		Class: ClassThreeArcs, Min: "5.0.0", Firstboot: FirstbootCount, Restore: RestorePrimaryDisk, UpgradeKeys: upgradeKeys5x,
		Sources: src("aad499a03110 variant.py VariantRetail.findInstallation (RETAIL_ROOT_PARTITION_NUMBER 1, mounted as ext3)",
			"aad499a03110 product.py findXenSourceProducts",
			"aad499a03110 product.py Version.from_string; upgrade.py ThirdGenUpgrader.upgrades_versions [5.0.0, own] (345ab98, 2009-04)",
			"aad499a03110 upgrade.py Upgrader.upgrades",
			"aad499a03110 product.py ExistingInstallation.isUpgradeable (5339c6ce64c7): len(state files) == len(executable digit scripts)",
			"aad499a03110 product.py findXenSourceBackups",
			"aad499a03110 upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "5.6", Era: "XenServer 5.6 installer", Repo: hi, Commit: "159714fa95c8",
		Root: partition.RootActiveLabelDOS, Key: "PRODUCT_VERSION", Keys: KeysProduct, Build: Yes,
		Class: ClassTwoOrThreeArcs, Min: "5.5.0", MaxBelow: true, Firstboot: FirstbootDirOnly, FirstbootUncaught: true, Restore: RestoreKeys, UpgradeKeys: upgradeKeys,
		Sources: src("159714fa95c8 diskutil.py probeDisk (413015b4bfd2): active, 0x83, e2label root-*; disktools.py PartitionTool is sfdisk (DOS only)",
			"159714fa95c8 product.py ExistingRetailInstallation.readInventory",
			"159714fa95c8 product.py Version (fb866c6208a3: two or three arcs); upgrade.py Upgrader.upgrades: _min <= version < _max (c9cc6ed1cf59)",
			"159714fa95c8 upgrade.py Upgrader.upgrades",
			"159714fa95c8 product.py ExistingInstallation.isUpgradeable: the state directory; filter(lambda x: not join_state_path(...)) never filters",
			"159714fa95c8 product.py findXenSourceBackups, XenServerBackup (no version check)",
			"159714fa95c8 upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "5.6-fp1", Era: "XenServer 5.6 FP1 installer", Repo: hi, Commit: "fcb351b16003",
		Root: partition.RootActiveLabelDOS, Key: "PRODUCT_VERSION", Keys: KeysProduct, Build: Yes,
		Class: ClassArcsBuild, Min: "5.5.0", MaxBelow: true, Firstboot: FirstbootDirOnly, FirstbootUncaught: true, Restore: RestoreKeys, UpgradeKeys: upgradeKeys,
		Sources: src("fcb351b16003 diskutil.py probeDisk (DOS only: GPT code came with 0d67664f2953, 2011-01)",
			"fcb351b16003 product.py ExistingRetailInstallation.readInventory",
			"fcb351b16003 product.py Version (a423d2747842); upgrade.py: _min <= version < _max, XENSERVER_5_5_0",
			"fcb351b16003 upgrade.py Upgrader.upgrades",
			"fcb351b16003 product.py ExistingInstallation.isUpgradeable (no-op per-script test)",
			"fcb351b16003 product.py findXenSourceBackups, XenServerBackup",
			"fcb351b16003 upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "5.6-sp2", Era: "XenServer 5.6 SP2 installer", Repo: hi, Key: "PRODUCT_VERSION",
		NotPublic: "XenServer 5.6 SP2 (2011) was built from a maintenance branch that is not in the public history (main line had already moved to the 6.0 rules by then: ef4147e0fd3f, 9a661ef3e5d3)",
	},
	{
		ID: "6.0", Era: "XenServer 6.0 and 6.1 installers", Repo: hi, Commit: "33dfb39d9d55",
		Root: partition.RootActiveLabel, Key: "PRODUCT_VERSION", Keys: KeysProduct, Build: Yes,
		Class: ClassArcsBuild, Min: "5.6.0", Firstboot: FirstbootDirOnly, FirstbootUncaught: true, Restore: RestoreKeys, UpgradeKeys: upgradeKeys,
		Sources: src("33dfb39d9d55 diskutil.py probeDisk; disktools.py GPTPartitionTool (active = sgdisk 'legacy BIOS bootable', enabled ebe335c068a9)",
			"33dfb39d9d55 (6.0), 3ed95fbaaa4b (6.1) product.py ExistingRetailInstallation.readInventory",
			"python-libs da1414be1d36 xcp/version.py (used from 45544440595c); upgrade.py get_upgrades_versions [5.6.0, own] (ef4147e0fd3f, inclusive 9a661ef3e5d3)",
			"33dfb39d9d55 upgrade.py Upgrader.upgrades",
			"33dfb39d9d55 product.py ExistingInstallation.isUpgradeable (no-op per-script test until 454a7079f2ff)",
			"33dfb39d9d55 product.py findXenSourceBackups, XenServerBackup",
			"33dfb39d9d55 upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "6.2", Era: "XenServer 6.2 installer", Repo: hi, Commit: "ab1a12040313",
		Root: partition.RootActiveLabel, Key: "PRODUCT_VERSION", Keys: KeysProductOrPlatform, Build: Yes,
		Class: ClassArcsBuild, Min: "5.6.0", Firstboot: FirstbootDirOnly, FirstbootUncaught: true, XCP: true, Restore: RestoreKeys, UpgradeKeys: upgradeKeys,
		Sources: src("ab1a12040313 diskutil.py probeDisk",
			"ab1a12040313 product.py ExistingRetailInstallation.readInventory (PLATFORM_NAME/PLATFORM_VERSION without PRODUCT_NAME)",
			"python-libs da1414be1d36 xcp/version.py; upgrade.py ThirdGenUpgrader.upgrades_versions [5.6.0, own]",
			"ab1a12040313 upgrade.py Upgrader.upgrades",
			"ab1a12040313 product.py ExistingInstallation.isUpgradeable (no-op per-script test)",
			"ab1a12040313 product.py findXenSourceBackups, XenServerBackup",
			"ab1a12040313 upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "6.5", Era: "XenServer 6.5 installer", Repo: hi, Commit: "20abd302208b",
		Root: partition.RootActiveLabel, Key: "PRODUCT_VERSION", Keys: KeysProductOrPlatform, Build: Yes,
		Class: ClassArcsBuild, Min: "5.6.0", Firstboot: FirstbootStrict, FirstbootUncaught: true, XCP: true, Restore: RestoreKeys, UpgradeKeys: upgradeKeys,
		Sources: src("20abd302208b diskutil.py probeDisk (the active test is removed only by fd2b3b6d57b8, 7.0 line)",
			"20abd302208b product.py ExistingRetailInstallation.readInventory",
			"python-libs da1414be1d36 xcp/version.py; upgrade.py [5.6.0, own] (the 6.0.0 floor, 21a305e, came after 6.5)",
			"20abd302208b upgrade.py Upgrader.upgrades",
			"20abd302208b product.py ExistingInstallation.isUpgradeable (454a7079f2ff: a state file per script)",
			"20abd302208b product.py findXenSourceBackups, XenServerBackup",
			"20abd302208b upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "7.0", Era: "XenServer 7.0 and 7.1 installers", Repo: hi, Commit: "f7a21a19afb9",
		Root: partition.RootLabel, Key: "PLATFORM_VERSION", Keys: KeysPlatform, Build: Yes,
		Class: ClassArcsBuild, Min: "1.0.99", Firstboot: FirstbootStrict, FirstbootUncaught: true, Restore: RestoreKeys, UpgradeKeys: upgradeKeys,
		Sources: src("f7a21a19afb9 diskutil.py probeDisk (no active test since fd2b3b6d57b8)",
			"f7a21a19afb9 (7.0), faf468206ca8 (7.1) product.py ExistingRetailInstallation.readInventory",
			"python-libs da1414be1d36 xcp/version.py (23c550a8623d came after 7.1); PLATFORM_VERSION-BUILD_NUMBER (7613817e230a); upgrade.py [1.0.99, own platform]",
			"f7a21a19afb9 upgrade.py Upgrader.upgrades",
			"f7a21a19afb9 product.py ExistingInstallation.isUpgradeable",
			"f7a21a19afb9 product.py findXenSourceBackups, XenServerBackup (no version check)",
			"f7a21a19afb9 upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "7.2", Era: "XenServer 7.2 to 7.6 installers", Repo: hi, Commit: "2c71c452109b",
		Root: partition.RootLabel, Key: "PLATFORM_VERSION", Keys: KeysPlatform, Build: Yes,
		Class: ClassBuildIgnored2017, Min: "1.0.99", Firstboot: FirstbootStrict, FirstbootUncaught: true, Restore: RestoreKeys, UpgradeKeys: upgradeKeys,
		Sources: src("2c71c452109b diskutil.py probeDisk",
			"2c71c452109b product.py ExistingRetailInstallation.readInventory",
			"python-libs 23c550a8623d xcp/version.py (CA-246490: build ignored); upgrade.py [1.0.99, own platform]",
			"2c71c452109b upgrade.py Upgrader.upgrades (01125b56a618, 7.3: the installer's own PRODUCT_NAME, also xenenterprise)",
			"2c71c452109b product.py ExistingInstallation.isUpgradeable",
			"2c71c452109b product.py findXenSourceBackups, XenServerBackup (no version check)",
			"2c71c452109b upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "8.0", Era: "Citrix Hypervisor 8.0 installer", Repo: hi, Commit: "442267f3797b",
		Root: partition.RootLabel, Key: "PLATFORM_VERSION", Keys: KeysPlatform, Build: Yes,
		Class: ClassBuildIgnored, Min: "2.1.0", Firstboot: FirstbootStrict, FirstbootUncaught: true, Restore: RestoreKeys, RestoreMin: "2.1.0", UpgradeKeys: upgradeKeys,
		Sources: src("442267f3797b diskutil.py probeDisk",
			"442267f3797b product.py ExistingRetailInstallation.readInventory",
			"python-libs a8c50c7c354d xcp/version.py; upgrade.py [XENSERVER_MIN_VERSION 2.1.0, own platform] (1e7c70f355f6)",
			"442267f3797b upgrade.py Upgrader.upgrades",
			"442267f3797b product.py ExistingInstallation.isUpgradeable",
			"442267f3797b product.py findXenSourceBackups: [2.1.0, own platform] (adca274b9dc0)",
			"442267f3797b upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "8.1", Era: "Citrix Hypervisor 8.1 installer", Repo: hi, Commit: "4681befea9ef",
		Root: partition.RootLabel, Key: "PLATFORM_VERSION", Keys: KeysPlatform, Build: Yes,
		Class: ClassBuildIgnored, Min: "2.1.0", Firstboot: FirstbootStorage, Restore: RestoreKeys, RestoreMin: "2.1.0", UpgradeKeys: upgradeKeys,
		Sources: src("4681befea9ef diskutil.py probeDisk",
			"4681befea9ef product.py ExistingRetailInstallation.readInventory",
			"python-libs a8c50c7c354d xcp/version.py; upgrade.py [2.1.0, own platform]",
			"4681befea9ef upgrade.py Upgrader.upgrades",
			"4681befea9ef product.py ExistingInstallation.isUpgradeable, constants.py INIT_SERVICE_FILES = [ran-storage-init]",
			"4681befea9ef product.py findXenSourceBackups: [2.1.0, own platform]",
			"4681befea9ef upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "8.2", Era: "Citrix Hypervisor 8.2 installer", Repo: hi, Commit: "2b6b70d61840",
		Root: partition.RootLabel, Key: "PLATFORM_VERSION", Keys: KeysPlatform, Build: Yes,
		Class: ClassBuildIgnored, Min: "2.1.0", Firstboot: FirstbootInitDone, Restore: RestoreKeys, RestoreMin: "2.1.0", UpgradeKeys: upgradeKeys,
		Sources: src("2b6b70d61840 diskutil.py probeDisk",
			"2b6b70d61840 product.py ExistingRetailInstallation.readInventory (BUILD_NUMBER mandatory until 9ae10d5ff92a)",
			"python-libs a8c50c7c354d xcp/version.py; upgrade.py [2.1.0, own platform]",
			"2b6b70d61840 upgrade.py Upgrader.upgrades",
			"2b6b70d61840 product.py ExistingInstallation.isUpgradeable, constants.py INIT_SERVICE_FILES (ran-network-init added by 1249ec10c07d)",
			"2b6b70d61840 product.py findXenSourceBackups: [2.1.0, own platform]",
			"2b6b70d61840 upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "8.2-cu1", Era: "Citrix Hypervisor 8.2 CU1 installer", Repo: hi, Commit: "2b6b70d61840..e5df6f8aaa74",
		Root: partition.RootLabel, Key: "PLATFORM_VERSION", Keys: KeysPlatform, Build: Unknown,
		Class: ClassBuildIgnored, Min: "2.1.0", Firstboot: FirstbootInitDone, Restore: RestoreKeys, RestoreMin: "2.1.0", UpgradeKeys: upgradeKeys,
		OldLayout: Unknown,
		Sources: src("diskutil.py probeDisk (unchanged in 10.7.5..10.7.9)",
			"product.py readInventory: BUILD_NUMBER optional from 9ae10d5ff92a (2020-11, tag 10.7.9); whether CU1 has it is not in the public history",
			"python-libs a8c50c7c354d xcp/version.py; upgrade.py [2.1.0, own platform]",
			"upgrade.py Upgrader.upgrades",
			"product.py ExistingInstallation.isUpgradeable (1249ec10c07d)",
			"product.py findXenSourceBackups: [2.1.0, own platform]",
			"upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "xcp-ng-8.3", Era: "XCP-ng 8.3 installer", Repo: xcp, Commit: "46df38e82005",
		Root: partition.RootLabel, Key: "PLATFORM_VERSION", Keys: KeysPlatformText, Build: No,
		Class: ClassBuildIgnored, Min: "2.1.0", Firstboot: FirstbootInitDone, Restore: RestoreKeys, RestoreMin: "2.1.0", UpgradeKeys: upgradeKeys,
		DOSAbort: true, OldLayout: Yes, BootMode: true, CertKeySize: true,
		Sources: src("xcp-ng 46df38e82005 diskutil.py probeDisk",
			"xcp-ng 46df38e82005 product.py ExistingRetailInstallation.readInventory",
			"xcp-ng 46df38e82005 upgrade.py ThirdGenUpgrader.upgrades_versions [XENSERVER_MIN_VERSION, THIS_PLATFORM_VERSION]",
			"xcp-ng 46df38e82005 upgrade.py Upgrader.upgrades",
			"xcp-ng 46df38e82005 product.py ExistingInstallation.isUpgradeable, constants.py INIT_SERVICE_FILES",
			"xcp-ng 46df38e82005 product.py findXenSourceBackups: [2.1.0, own platform], boot mode must match",
			"xcp-ng 46df38e82005 upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
	{
		ID: "xs8", Era: "XenServer 8 installer", Repo: hi, Commit: "05720e0c0421",
		Root: partition.RootLabel, Key: "PLATFORM_VERSION", Keys: KeysPlatformText, Build: No,
		Class: ClassBuildIgnored, Min: "2.1.0", Firstboot: FirstbootInitDone, Restore: RestoreKeys, RestoreMin: "2.1.0", UpgradeKeys: upgradeKeys,
		DOSAbort: true, OldLayout: Yes, SingleSR: true,
		Sources: src("release/xs8 05720e0c0421 diskutil.py probeDisk",
			"release/xs8 product.py ExistingRetailInstallation.readInventory (9ae10d5ff92a, 168a127c2764)",
			"python-libs a8c50c7c354d xcp/version.py; upgrade.py [2.1.0, own platform]",
			"release/xs8 upgrade.py Upgrader.upgrades",
			"release/xs8 product.py ExistingInstallation.isUpgradeable",
			"release/xs8 product.py findXenSourceBackups: [2.1.0, own platform]",
			"release/xs8 upgrade.py ThirdGenUpgrader.prepareUpgrade"),
	},
}

// generationFor maps a release's product version to its installer row.
var generationFor = map[string]string{
	"5.0.0": "5.0", "5.5.0": "5.5", "5.6.0": "5.6", "5.6.100": "5.6-fp1", "5.6.199": "5.6-sp2",
	"6.0.0": "6.0", "6.1.0": "6.0", "6.2.0": "6.2", "6.5.0": "6.5",
	"7.0.0": "7.0", "7.1.0": "7.0", "7.2.0": "7.2", "7.3.0": "7.2", "7.4.0": "7.2", "7.5.0": "7.2", "7.6.0": "7.2",
	"8.0.0": "8.0", "8.1.0": "8.1", "8.2.0": "8.2", "8.2.1": "8.2-cu1", "8.3.0": "xcp-ng-8.3", "8.4.0": "xs8",
}

// Generations lists the installer model's rows, oldest first.
func Generations() []*Generation { return append([]*Generation(nil), generations...) }

func generationByID(id string) *Generation {
	for _, g := range generations {
		if g.ID == id {
			return g
		}
	}
	return nil
}
