//go:build !unix

package docdb

// lockDir does not lock on systems without flock: the embedded database
// trusts that one process uses its directory.
func lockDir(string) (unlock func(), err error) { return func() {}, nil }
