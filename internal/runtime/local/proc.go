package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// procStartTime returns field 22 of /proc/<pid>/stat: the time the process
// started, in clock ticks after boot. A pid together with its start time
// names one process even after the pid is reused.
func procStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStartTime(data)
}

func parseStartTime(stat []byte) (uint64, error) {
	// The command name (field 2) is in parentheses and may contain spaces
	// and parentheses itself, so fields are counted after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/<pid>/stat")
	}
	fields := bytes.Fields(stat[i+1:])
	const startTime = 22 - 3 // fields after ')' begin with field 3
	if len(fields) <= startTime {
		return 0, errors.New("malformed /proc/<pid>/stat: too few fields")
	}
	return strconv.ParseUint(string(fields[startTime]), 10, 64)
}

// signalGroup sends sig to the replica's process group. The replica is
// its own group leader (Setpgid), so its pid is the group id. The group
// may outlive its leader (a grandchild still runs); the kernel does not
// hand out a pid that is in use as a group id, so the only reuse to guard
// against is a new process with the leader's pid, which has another start
// time.
func signalGroup(pi *pidInfo, sig syscall.Signal) error {
	if pi == nil || pi.PID <= 0 {
		return nil
	}
	if st, err := procStartTime(pi.PID); err == nil && st != pi.PIDStartTime {
		return nil // the pid now names another process
	}
	err := syscall.Kill(-pi.PID, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending %s to process group %d: %w", signalName(sig), pi.PID, err)
	}
	return nil
}

// exitCode turns a wait status into a shell-style exit code and signal name.
func exitCode(ws syscall.WaitStatus) (int, string) {
	if ws.Signaled() {
		return 128 + int(ws.Signal()), signalName(ws.Signal())
	}
	return ws.ExitStatus(), ""
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGSTKFLT: "SIGSTKFLT", syscall.SIGCHLD: "SIGCHLD", syscall.SIGCONT: "SIGCONT",
	syscall.SIGSTOP: "SIGSTOP", syscall.SIGTSTP: "SIGTSTP", syscall.SIGTTIN: "SIGTTIN",
	syscall.SIGTTOU: "SIGTTOU", syscall.SIGURG: "SIGURG", syscall.SIGXCPU: "SIGXCPU",
	syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGVTALRM: "SIGVTALRM", syscall.SIGPROF: "SIGPROF",
	syscall.SIGWINCH: "SIGWINCH", syscall.SIGIO: "SIGIO", syscall.SIGPWR: "SIGPWR",
	syscall.SIGSYS: "SIGSYS",
}

func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return "SIG" + strconv.Itoa(int(s))
}
