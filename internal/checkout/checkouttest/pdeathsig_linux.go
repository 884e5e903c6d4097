package checkouttest

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill stripe-mock if the test binary
// dies without calling Stop.
func setParentDeathSignal(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
