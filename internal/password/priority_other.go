//go:build !linux

package password

// lowerPriority is a no-op where per-thread priorities are not available.
func lowerPriority() {}
