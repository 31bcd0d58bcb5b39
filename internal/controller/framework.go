package controller

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"skiff.dev/skiff/api/v1alpha1"
)

// replicaSlot is one placed replica in global rank order: groups in spec
// order, then index.
type replicaSlot struct {
	group string
	index int32
	node  string
	// procs is how many processes the replica runs: one per whole GPU it
	// holds (torchrun's nproc_per_node), at least one.
	procs int
}

// slots lists a job's placed replicas in global rank order.
func slots(job *v1alpha1.Job) []replicaSlot {
	order := map[string]int{}
	for i, g := range job.Spec.ReplicaGroups {
		order[g.Name] = i
	}
	var out []replicaSlot
	if job.Status.Admission == nil {
		return nil
	}
	for _, p := range job.Status.Admission.Placements {
		procs := 1
		if len(p.GPUs) > 1 {
			procs = len(p.GPUs)
		}
		out = append(out, replicaSlot{group: p.Group, index: p.Index, node: p.Node, procs: procs})
	}
	sort.SliceStable(out, func(a, b int) bool {
		if order[out[a].group] != order[out[b].group] {
			return order[out[a].group] < order[out[b].group]
		}
		return out[a].index < out[b].index
	})
	return out
}

// needsCoordinator reports whether the job's preset rendezvouses on a port.
func needsCoordinator(job *v1alpha1.Job) bool {
	return job.Spec.Framework == v1alpha1.FrameworkPyTorch || job.Spec.Framework == v1alpha1.FrameworkJAX
}

// frameworkEnv is the environment a preset adds to one replica. addr maps
// a node name to the address peers reach it at; hostfile is the MPI
// hostfile's path.
func frameworkEnv(job *v1alpha1.Job, group string, index int32, addr peerAddress, hostfile string) []string {
	all := slots(job)
	self, firstRank, world := -1, 0, 0
	for i, s := range all {
		if s.group == group && s.index == index {
			self, firstRank = i, world
		}
		world += s.procs
	}
	if self < 0 || len(all) == 0 {
		return nil
	}
	master := addr(all[0].group, all[0].index, all[0].node)
	port := strconv.Itoa(int(job.Status.CoordinatorPort))
	itoa := strconv.Itoa
	switch job.Spec.Framework {
	case v1alpha1.FrameworkPyTorch:
		return []string{
			"MASTER_ADDR=" + master, "MASTER_PORT=" + port,
			"WORLD_SIZE=" + itoa(world), "RANK=" + itoa(firstRank), "LOCAL_RANK=0", "NODE_RANK=" + itoa(self),
			"PET_NNODES=" + itoa(len(all)), "PET_NPROC_PER_NODE=" + itoa(all[self].procs), "PET_NODE_RANK=" + itoa(self),
			"PET_MASTER_ADDR=" + master, "PET_MASTER_PORT=" + port,
		}
	case v1alpha1.FrameworkJAX:
		return []string{
			"JAX_COORDINATOR_ADDRESS=" + master + ":" + port,
			"JAX_NUM_PROCESSES=" + itoa(len(all)), "JAX_PROCESS_ID=" + itoa(self),
		}
	case v1alpha1.FrameworkMPI:
		return []string{
			"SKIFF_HOSTFILE=" + hostfile,
			"OMPI_MCA_orte_default_hostfile=" + hostfile,
			"HYDRA_HOST_FILE=" + hostfile,
		}
	}
	return nil
}

// hostfileContent is the MPI hostfile of a job: one line per node of its
// worker replicas, `host slots=N` with N the processes placed there.
func hostfileContent(job *v1alpha1.Job, addr peerAddress) string {
	slotsPer := map[string]int{}
	var hosts []string
	for _, s := range slots(job) {
		if s.group == v1alpha1.MPILauncherGroup {
			continue
		}
		h := addr(s.group, s.index, s.node)
		if _, ok := slotsPer[h]; !ok {
			hosts = append(hosts, h)
		}
		slotsPer[h] += s.procs
	}
	var b strings.Builder
	for _, h := range hosts {
		fmt.Fprintf(&b, "%s slots=%d\n", h, slotsPer[h])
	}
	return b.String()
}

// jobDir is where the controller keeps files of a job (the MPI hostfile).
// Namespace and name are DNS labels, so the path stays inside WorkDir.
func (c *JobController) jobDir(job *v1alpha1.Job) string {
	return filepath.Join(c.WorkDir, job.Namespace, job.Name)
}

// writeHostfile writes the attempt's hostfile and returns its path.
func (c *JobController) writeHostfile(job *v1alpha1.Job) (string, error) {
	if c.WorkDir == "" {
		return "", fmt.Errorf("the mpi preset needs the controller's work directory, which is not configured")
	}
	dir := filepath.Join(c.jobDir(job), "attempt-"+strconv.Itoa(int(job.Status.Attempt)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the hostfile directory: %w", err)
	}
	path := filepath.Join(dir, "hostfile")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(hostfileContent(job, c.peerAddress(job))), 0o644); err != nil {
		return "", fmt.Errorf("writing the hostfile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("writing the hostfile: %w", err)
	}
	return path, nil
}

// peerAddress is where the peers of a job reach one of its replicas
// (group, index), placed on node.
type peerAddress func(group string, index int32, node string) string

// peerAddress is where peers reach a replica of job: what PeerAddress says,
// else its node's address; the local runtime's replicas all run on this
// machine, reached on loopback.
func (c *JobController) peerAddress(job *v1alpha1.Job) peerAddress {
	return func(group string, index int32, node string) string {
		switch {
		case c.PeerAddress != nil:
			return c.PeerAddress(job, group, index, node)
		case c.NodeAddress != nil:
			return c.NodeAddress(node)
		}
		return "127.0.0.1"
	}
}
