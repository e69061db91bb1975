package models

// WriteOptions qualify one write of a client.
type WriteOptions struct {
	// DryRun runs every check and computes the answer the write would give,
	// and stores nothing (SPEC §4 rule 10).
	DryRun bool
}
