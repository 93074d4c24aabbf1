package target

// Hooks for the external tests (mount_test.go lives in package target_test
// because fixtures imports packages that import target).
var (
	AttachLoop  = attachLoop
	RefuseInUse = refuseInUse
)
