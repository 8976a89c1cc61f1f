package cgroupcmd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// ErrCommandNotFound means the command to run does not exist.
var ErrCommandNotFound = errors.New("command not found")

// ErrCommandNotExecutable means the command to run exists but cannot be
// executed (not a regular file with execute permission).
var ErrCommandNotExecutable = errors.New("command not executable")

// LookCommand resolves the program to run (to record or to enforce a policy
// on) the way a shell does, and says what is wrong when it cannot be run:
// the errors wrap ErrCommandNotFound or ErrCommandNotExecutable.
func LookCommand(name string) (string, error) {
	path, err := exec.LookPath(name)
	switch {
	case err == nil:
		return path, nil
	case errors.Is(err, exec.ErrDot):
		return "", fmt.Errorf("%w: %s is in the current directory, which is not searched: run ./%s", ErrCommandNotFound, name, name)
	case errors.Is(err, exec.ErrNotFound):
		return "", fmt.Errorf("%w: %s is not in $PATH: check the name or give its full path", ErrCommandNotFound, name)
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%w: %s: no such file", ErrCommandNotFound, name)
	case errors.Is(err, syscall.EISDIR):
		return "", fmt.Errorf("%w: %s is a directory", ErrCommandNotExecutable, name)
	case errors.Is(err, os.ErrPermission):
		return "", fmt.Errorf("%w: %s: not a file with execute permission (chmod +x it, or run it through its interpreter)", ErrCommandNotExecutable, name)
	}
	return "", fmt.Errorf("%w: %s: %v", ErrCommandNotFound, name, errors.Unwrap(err))
}
