//go:build !feedproof

package db

// commitDelay is a no-op outside the feedproof build (commitdelay_feedproof.go),
// which the feed's proof runs to widen the window between a write's event seq
// and its COMMIT. Production binaries have no such knob.
func commitDelay() {}
