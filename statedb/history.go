package statedb

import (
	"sort"
	"strconv"
	"strings"
)

// The datamodel history below is a model, not a copy of xapi's schema: the
// tables and columns are real xapi names (Datamodel_schema naming: classes as
// table names, namespaces joined by "__"), and the schema at which each one
// appeared or was removed is taken from xapi's datamodel lifecycle as far as
// it is known; values marked "~" in docs/statedb.md are approximate
// (UNVERIFIED). It is used for two things only: the "suspected" list of
// `statedb patch --to-release` without --like (never to drop anything), and
// the fixtures. The authority for a patch is always a database written by the
// target xapi (--like), as design/xenserver.md rule 15 requires.

// ColumnSpan is one column and the schema range in which it exists.
type ColumnSpan struct {
	Name    string
	Added   int // first schema minor with the column
	Removed int // first schema minor without it; 0: still present
}

// TableSpan is one table, its lifetime and its columns.
type TableSpan struct {
	Name    string
	Added   int
	Removed int
	Columns []ColumnSpan
}

func (c ColumnSpan) at(minor int) bool {
	return minor >= c.Added && (c.Removed == 0 || minor < c.Removed)
}

// history lists "Table@added[-removed]: col col@added col@added-removed ...".
// Columns without @ exist as long as the table. Every table also has _ref and
// uuid.
var historySpec = []string{
	"Bond@35: master slaves other_config primary_slave@60 mode@60 properties@63 links_up@66 lacp_aggregation_key@142 auto_update_mac@504",
	"Certificate@601: name@602 type@602 host not_before not_after fingerprint fingerprint_sha256@785 fingerprint_sha1@785",
	"Cluster@142: cluster_hosts network cluster_token cluster_stack pool_auto_join token_timeout token_timeout_coefficient cluster_config other_config allowed_operations current_operations",
	"Cluster_host@142: cluster host enabled PIF joined allowed_operations current_operations other_config",
	"Console: protocol location VM other_config",
	"Crashdump: VM VDI other_config",
	"DR_task@63: introduced_SRs",
	"Feature@108: name__label name__description enabled experimental version host",
	"GPU_group@63: name__label name__description PGPUs VGPUs GPU_types other_config allocation_algorithm@68",
	"Host_cpu: host number vendor speed modelname family model stepping flags features utilisation other_config",
	"Host_crashdump: host timestamp size other_config",
	"Host_metrics: memory__total memory__free live last_updated other_config",
	"Host_patch: name__label name__description version host applied timestamp_applied size pool_patch other_config",
	"LVHD@93: ",
	"Message@55: name priority cls obj_uuid timestamp body",
	"Network_sriov@142: physical_PIF logical_PIF requires_reboot configuration_mode",
	"Observer@775: name__label name__description hosts attributes endpoints components enabled",
	"PBD: host SR device_config currently_attached other_config",
	"PCI@63: class_name vendor_name device_name host pci_id dependencies other_config subsystem_vendor_name@72 subsystem_device_name@72 driver_name@203",
	"PGPU@63: PCI GPU_group host other_config supported_VGPU_types@68 enabled_VGPU_types@68 resident_VGPUs@68 dom0_access@93 is_system_display_device@93",
	"PIF: device network host MAC MTU VLAN metrics physical currently_attached ip_configuration_mode IP netmask gateway DNS bond_slave_of bond_master_of VLAN_master_of management other_config disallow_unplug@57 tunnel_access_PIF_of@61 tunnel_transport_PIF_of@61 ipv6_configuration_mode@63 IPv6@63 ipv6_gateway@63 primary_address_type@63 managed@72 properties@72 capabilities@93 igmp_snooping_status@133 sriov_physical_PIF_of@142 sriov_logical_PIF_of@142 PCI@142",
	"PIF_metrics: io_read_kbs io_write_kbs carrier vendor_id vendor_name device_id device_name speed duplex pci_bus_path last_updated other_config",
	"PUSB@133: USB_group host path vendor_id vendor_desc product_id product_desc serial version description passthrough_enabled other_config speed@203",
	"PVS_cache_storage@108: host SR site size VDI",
	"PVS_proxy@108: site VIF currently_attached status",
	"PVS_server@108: addresses first_port last_port site",
	"PVS_site@108: name__label name__description PVS_uuid cache_storage servers proxies",
	"Pool_patch: name__label name__description version size pool_applied host_patches after_apply_guidance other_config pool_update@108",
	"Pool_update@108: name__label name__description version installation_size key after_apply_guidance vdi hosts other_config enforce_homogeneity@120",
	"Repository@775: name__label name__description binary_url source_url update hash up_to_date gpgkey_path",
	"SDN_controller@120: protocol address port",
	"SM: name__label name__description type vendor copyright version required_api_version configuration capabilities@57 other_config driver_filename@57 features@72 required_cluster_stack@142",
	"SR: name__label name__description allowed_operations current_operations VDIs PBDs virtual_allocation physical_utilisation physical_size type content_type shared other_config tags@55 sm_config@55 blobs@55 local_cache_enabled@61 introduced_by@63 clustered@142 is_tools_sr@203",
	"USB_group@133: name__label name__description PUSBs VUSBs other_config",
	"VBD: VM VDI device userdevice bootable mode type unpluggable@55 storage_lock empty other_config currently_attached status_code status_detail runtime_properties qos_algorithm_type qos_algorithm_params qos_supported_algorithms metrics allowed_operations current_operations",
	"VBD_metrics: io_read_kbs io_write_kbs last_updated other_config",
	"VDI: name__label name__description allowed_operations current_operations SR VBDs crash_dumps virtual_size physical_utilisation type sharable read_only other_config storage_lock location managed missing parent xenstore_data sm_config is_a_snapshot@57 snapshot_of@57 snapshots@57 snapshot_time@57 tags@55 allow_caching@61 on_boot@61 metadata_of_pool@63 metadata_latest@63 is_tools_iso@93 cbt_enabled@120",
	"VGPU@63: VM GPU_group device currently_attached other_config type@68 resident_on@68 scheduled_to_be_resident_on@93 compatibility_metadata@504",
	"VGPU_type@68: vendor_name model_name framebuffer_size max_heads max_resolution_x max_resolution_y supported_on_PGPUs enabled_on_PGPUs VGPUs supported_on_GPU_groups@72 enabled_on_GPU_groups@72 implementation@93 identifier@93 experimental@93",
	"VIF: device network VM MAC MTU other_config currently_attached status_code status_detail runtime_properties qos_algorithm_type qos_algorithm_params qos_supported_algorithms metrics allowed_operations current_operations MAC_autogenerated@55 locking_mode@63 ipv4_allowed@63 ipv6_allowed@63 ipv4_configuration_mode@93 ipv4_addresses@93 ipv4_gateway@93 ipv6_configuration_mode@93 ipv6_addresses@93 ipv6_gateway@93",
	"VIF_metrics: io_read_kbs io_write_kbs last_updated other_config",
	"VLAN: tagged_PIF untagged_PIF tag other_config",
	"VM: name__label name__description power_state user_version is_a_template suspend_VDI resident_on affinity memory__static_max memory__dynamic_max memory__dynamic_min memory__static_min VCPUs__params VCPUs__max VCPUs__at_startup actions__after_shutdown actions__after_reboot actions__after_crash consoles VIFs VBDs crash_dumps PV__bootloader PV__kernel PV__ramdisk PV__args PV__bootloader_args PV__legacy_args HVM__boot_policy HVM__boot_params HVM__shadow_multiplier@55 platform PCI_bus other_config domid domarch last_boot_CPU_flags is_control_domain metrics guest_metrics recommendations xenstore_data allowed_operations current_operations ha_always_run@55-142 ha_restart_priority@55 tags@55 blobs@55 blocked_operations@55 is_a_snapshot@57 snapshot_of@57 snapshots@57 snapshot_time@57 transportable_snapshot_id@57 bios_strings@60 protection_policy@61-120 is_snapshot_from_vmpp@61-120 appliance@63 start_delay@63 shutdown_delay@63 order@63 VGPUs@63 attached_PCIs@63 suspend_SR@63 version@63 generation_id@66 hardware_platform_version@72 has_vendor_device@93 snapshot_schedule@93 is_vmss_snapshot@93 requires_reboot@133 reference_label@133 VUSBs@133 domain_type@142 NVRAM@142 pending_guidances@775",
	"VMPP@61-120: name__label name__description is_policy_enabled backup_type backup_retention_value backup_frequency backup_schedule is_backup_running backup_last_run_time archive_target_type archive_target_config archive_frequency archive_schedule is_archive_running archive_last_run_time VMs is_alarm_enabled alarm_config recent_alerts",
	"VMSS@93: name__label name__description enabled type retained_snapshots frequency schedule last_run_time VMs",
	"VM_appliance@63: name__label name__description allowed_operations current_operations VMs",
	"VM_guest_metrics: os_version PV_drivers_version PV_drivers_up_to_date memory disks networks other last_updated other_config@55 live@57 can_use_hotplug_vbd@93 can_use_hotplug_vif@93 PV_drivers_detected@93",
	"VM_metrics: memory__actual VCPUs__number VCPUs__utilisation VCPUs__CPU VCPUs__params VCPUs__flags state start_time install_time last_updated other_config@55 hvm@93 nested_virt@93 nomigrate@93 current_domain_type@142",
	"VTPM: VM backend",
	"VUSB@133: VM USB_group allowed_operations current_operations other_config currently_attached",
	"blob@55: name__label name__description mime_type size last_updated public@60",
	"host: name__label name__description allowed_operations current_operations API_version_major API_version_minor API_version_vendor API_version_vendor_implementation enabled software_version other_config capabilities cpu_configuration sched_policy supported_bootloaders resident_VMs logging PIFs suspend_image_sr crash_dump_sr crashdumps patches PBDs host_CPUs hostname address metrics license_params boot_free_mem ha_statefiles@55 ha_network_peers@55 blobs@55 tags@55 external_auth_type@57 external_auth_service_name@57 external_auth_configuration@57 edition@60 license_server@60 bios_strings@60 power_on_mode@61 power_on_config@61 local_cache_sr@61 chipset_info@63 PCIs@63 PGPUs@63 guest_VCPUs_params@66 ssl_legacy@93 display@93 virtual_hardware_platform_versions@93 control_domain@133 updates_requiring_reboot@133 features@120 iscsi_iqn@133 multipathing@133 uefi_certificates@504 certificates@601 editions@601 pending_guidances@775 tls_verification_enabled@775 last_software_update@775 https_only@775",
	"network: name__label name__description allowed_operations current_operations VIFs PIFs other_config bridge@55 blobs@55 tags@55 default_locking_mode@63 MTU@61 assigned_ips@72 purpose@142 managed@133",
	"pool: name__label name__description master default_SR suspend_image_SR crash_dump_SR other_config ha_enabled@55 ha_configuration@55 ha_statefiles@55 ha_host_failures_to_tolerate@55 ha_plan_exists_for@55 ha_allow_overcommit@55 ha_overcommitted@55 blobs@55 tags@55 gui_config@55 wlb_url@57 wlb_username@57 wlb_password@57 wlb_enabled@57 wlb_verify_cert@57 redo_log_enabled@60 redo_log_vdi@60 vswitch_controller@60-142 restrictions@60 metadata_VDIs@63 ha_cluster_stack@93 allowed_operations@93 current_operations@93 guest_agent_config@93 cpu_info@93 policy_no_vendor_device@93 live_patching_disabled@120 igmp_snooping_enabled@133 uefi_certificates@504 is_psr_pending@601 tls_verification_enabled@775 repositories@775 client_certificate_auth_enabled@775 repository_proxy_url@775",
	"role@60: name__label name__description subroles",
	"secret@60: value other_config@63",
	"session: uuid this_host this_user last_active pool other_config subject@57 is_local_superuser@57 validation_time@57 auth_user_sid@57 auth_user_name@60 rbac_permissions@60 tasks@60 parent@60 originator@63",
	"subject@57: subject_identifier other_config roles@60",
	"task: name__label name__description allowed_operations current_operations created finished status resident_on progress type result error_info other_config subtask_of@55 subtasks@55 backtrace@93",
	"tunnel@61: access_PIF transport_PIF status other_config protocol@775",
	"user: short_name fullname other_config@55",
}

// History is the table and column model, by table name.
var History = parseHistory(historySpec)

func parseSpan(s string) (name string, added, removed int) {
	name, rng, ok := strings.Cut(s, "@")
	if !ok {
		return name, 0, 0
	}
	a, r, _ := strings.Cut(rng, "-")
	added, _ = strconv.Atoi(a)
	removed, _ = strconv.Atoi(r)
	return name, added, removed
}

func parseHistory(spec []string) []TableSpan {
	out := make([]TableSpan, 0, len(spec))
	for _, line := range spec {
		head, cols, _ := strings.Cut(line, ":")
		var t TableSpan
		t.Name, t.Added, t.Removed = parseSpan(head)
		t.Columns = []ColumnSpan{{Name: "_ref", Added: t.Added}, {Name: "uuid", Added: t.Added}}
		for _, c := range strings.Fields(cols) {
			n, a, r := parseSpan(c)
			if n == "uuid" {
				continue
			}
			if a < t.Added {
				a = t.Added
			}
			t.Columns = append(t.Columns, ColumnSpan{Name: n, Added: a, Removed: r})
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ModelAt returns the modelled tables and their columns (sorted) at schema
// 5.minor.
func ModelAt(minor int) map[string][]string {
	out := map[string][]string{}
	for _, t := range History {
		if !(ColumnSpan{Added: t.Added, Removed: t.Removed}).at(minor) {
			continue
		}
		var cols []string
		for _, c := range t.Columns {
			if c.at(minor) {
				cols = append(cols, c.Name)
			}
		}
		sort.Strings(cols)
		out[t.Name] = cols
	}
	return out
}
