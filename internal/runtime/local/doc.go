// Package local runs replicas as supervised processes on this machine.
//
// # Layout
//
// Every replica gets a directory Dir/<namespace>/<name> that is claimed with
// os.Mkdir: whoever creates it starts the replica, anyone who finds it
// already there reports the existing replica instead. Because the directory
// outlives the server, a replica is started at most once per name, even
// across crashes. The directory holds:
//
//	lock         flock(2)-locked for as long as the replica's shim lives
//	spec.json    what to run (the Replica, resolved env and working dir)
//	shim.log     the shim's own diagnostics
//	log          the replica's combined stdout and stderr (appended)
//	pid.json     written by the shim once the replica runs: pids and
//	             process start times (to defeat pid reuse), cgroup, warnings
//	stop-reason  written by Stop and Shutdown before they signal
//	exit.json    written by the shim, atomically, after the replica exited
//
// # The shim
//
// Start launches a supervisor process, the shim (ShimCommand followed by
// "--dir <replicaDir>"), in its own session so that it survives the server
// being killed. The binary must route that command line to ShimMain; skiff
// does so with a hidden "shim" subcommand. The shim inherits two extra file
// descriptors: fd 3 is the replica's lock file, already locked by the
// server, so the lock is held without a gap from before the shim starts
// until the shim exits, and fd 4 is a pipe on which the shim reports that
// the replica runs. The shim places the replica in a cgroup with its limits,
// starts it in its own process group, writes pid.json, waits for it, kills
// whatever is left of its process group and cgroup, and writes exit.json.
//
// # Exit detection
//
// The runtime waits on shims it started. Replicas found running after a
// server restart (New, List, Status or Start find a directory whose lock is
// held and that has no exit.json) are adopted and polled every
// Options.PollInterval. Liveness is the lock rather than the shim's pid:
// the kernel releases a flock when its holder dies, so there is no pid
// reuse to get wrong and no gap between the server launching the shim and
// the shim recording its pid. Pids with their start times (pid.json) are
// used to signal the replica's process group. A replica whose lock is free
// but that has no exit.json lost its shim: its state is runtime.Lost
// (exit code and finish time unknown), and whatever is left of its
// processes is killed so that it cannot run beside its replacement (the
// replica also gets SIGKILL from the kernel when its shim dies, through
// PR_SET_PDEATHSIG).
//
// One Runtime per directory is expected; a second one over the same
// directory (a restarted server) adopts what the first started.
//
// # Start errors
//
// A command that cannot be found or executed, or a working directory that
// does not exist, does not make Start fail: Start claims the name and the
// replica exits at once with Reason "StartError", exit code 127 and a
// message naming the command. Start returns an error only for invalid
// input (names that are not DNS labels/subdomains, no command) and for
// failures of the runtime itself.
//
// # Limits
//
// CPU and memory limits are applied with cgroup v2 where the unified
// hierarchy offers the cpu and memory controllers, else with cgroup v1
// (Options.CgroupRoot/{cpu,memory}/skiff/<namespace>_<name>-<hash of the
// replica directory>). When they cannot be applied the replica runs
// anyway and Status.Warnings says why. A replica killed by the memory
// limit exits with Reason "OOMKilled". The shim enters the cgroup only to
// fork the replica and leaves it at once, so it is neither charged for the
// replica's memory nor chosen by its OOM killer. A replica without limits
// gets no cgroup; its processes are tracked by process group alone.
package local
