//go:build unix

package docdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockName is the file whose lock says a process has the embedded
// database's directory open.
const lockName = "LOCK"

// lockDir takes the directory for this process, or fails at once if another
// process has it: two writers of one file would each keep a copy in memory
// that the other's writes make wrong. The lock goes with the process, so a
// killed one leaves nothing to clean up.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded database lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("embedded database: another process is using %s; the embedded database allows one process at a time", dir)
		}
		return nil, fmt.Errorf("embedded database lock: %w", err)
	}
	return func() { f.Close() }, nil
}
