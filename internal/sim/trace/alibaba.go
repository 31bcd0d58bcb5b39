package trace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Alibaba PAI GPU 2023 column names.
const (
	aliName      = "name"
	aliCPU       = "cpu_milli"
	aliMemory    = "memory_mib"
	aliNumGPU    = "num_gpu"
	aliGPUMilli  = "gpu_milli"
	aliSpec      = "gpu_spec"
	aliQoS       = "qos"
	aliCreated   = "creation_time"
	aliDeleted   = "deletion_time"
	aliScheduled = "scheduled_time"
)

// ReadAlibabaFile reads an openb_pod_list_*.csv file; see ReadAlibaba.
func ReadAlibabaFile(path string, opts Options) (*Trace, error) {
	return readFile(path, opts, ReadAlibaba)
}

// ReadAlibaba reads Alibaba PAI GPU 2023 tasks (pod list). Each task is a
// one-replica job: num_gpu whole GPUs, or gpu_milli of one GPU when
// num_gpu is 1 and gpu_milli is below 1000. The tenant is the task's qos
// class. Duration is deletion_time - scheduled_time; a task the original
// cluster never scheduled (no scheduled_time), or a file without time
// columns (such as the multigpu50 variant), yields jobs with Unscheduled
// set: usable for placement studies, not for replay.
func ReadAlibaba(file string, in io.Reader, opts Options) (*Trace, error) {
	tr := &Trace{}
	t, err := newTable(file, in, ',', true, opts, tr)
	if err != nil {
		return nil, err
	}
	if err := t.require(aliCPU, aliMemory, aliNumGPU, aliGPUMilli); err != nil {
		return nil, err
	}
	timed := t.has(aliCreated) && t.has(aliDeleted) && t.has(aliScheduled)
	if !timed {
		tr.Notes = append(tr.Notes, file+": no creation_time/scheduled_time/deletion_time columns: tasks keep file order and have no durations (placement studies only)")
	}
	unscheduled := 0
	row := 0
	for {
		ok, err := t.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		row++
		j, perr := t.alibabaJob(row, timed)
		if perr != nil {
			if err := t.fail(perr); err != nil {
				return nil, err
			}
			continue
		}
		if j.Unscheduled {
			unscheduled++
		}
		tr.Jobs = append(tr.Jobs, j)
	}
	if unscheduled > 0 && timed {
		tr.Notes = append(tr.Notes, fmt.Sprintf("%s: %d tasks never ran in the original cluster (no scheduled_time): left out of replays, kept for placement studies", file, unscheduled))
	}
	return tr, nil
}

func (t *table) alibabaJob(row int, timed bool) (Job, error) {
	j := Job{ID: t.str(aliName), Replicas: 1, Tenant: strings.ToLower(t.str(aliQoS))}
	if j.ID == "" {
		j.ID = fmt.Sprintf("task-%d", row)
	}
	if j.Tenant == "" {
		j.Tenant = "default"
	}
	ints := []struct {
		name string
		dst  *int64
	}{{aliCPU, &j.CPUMilli}, {aliMemory, &j.MemoryMiB}}
	for _, f := range ints {
		v, err := parseInt(t.str(f.name))
		if err != nil {
			return j, t.errField(f.name, err)
		}
		*f.dst = v
	}
	num, err := parseInt(t.str(aliNumGPU))
	if err != nil {
		return j, t.errField(aliNumGPU, err)
	}
	milli, err := parseInt(t.str(aliGPUMilli))
	if err != nil {
		return j, t.errField(aliGPUMilli, err)
	}
	switch {
	case num == 0:
		j.GPUMilli = 0
	case num == 1 && milli > 0 && milli <= 1000:
		j.GPUMilli = milli
	case num == 1:
		return j, t.errField(aliGPUMilli, fmt.Errorf("%d with num_gpu 1: expected 1..1000", milli))
	case num > 64:
		return j, t.errField(aliNumGPU, fmt.Errorf("%d GPUs on one task: expected 0..64", num))
	default:
		// Shares apply to single-GPU tasks only; several GPUs are whole.
		j.GPUMilli = num * 1000
	}
	j.Models = ParseModels(t.str(aliSpec))
	if !timed {
		j.Unscheduled = true
		j.Submit = float64(row)
		return j, nil
	}
	created, err := parseSeconds(t.str(aliCreated))
	if err != nil {
		return j, t.errField(aliCreated, err)
	}
	j.Submit = created
	if t.str(aliScheduled) == "" {
		j.Unscheduled = true
		return j, nil
	}
	sched, err := parseSeconds(t.str(aliScheduled))
	if err != nil {
		return j, t.errField(aliScheduled, err)
	}
	del, err := parseSeconds(t.str(aliDeleted))
	if err != nil {
		return j, t.errField(aliDeleted, err)
	}
	if del < sched {
		return j, t.errField(aliDeleted, fmt.Errorf("%g is before scheduled_time %g", del, sched))
	}
	j.Duration = del - sched
	return j, nil
}

// ReadNodesFile reads a node list: Alibaba's openb_node_list_gpu_node.csv
// (sn,cpu_milli,memory_mib,gpu,model) or skiff's own node CSV
// (name,gpus,model[,cpu_milli,memory_mib]).
func ReadNodesFile(path string, opts Options) ([]Node, []error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open nodes file: %w", err)
	}
	defer f.Close()
	return ReadNodes(path, f, opts)
}

// ReadNodes reads a node list (see ReadNodesFile). It returns the nodes and
// the rows it skipped.
func ReadNodes(file string, in io.Reader, opts Options) ([]Node, []error, error) {
	tr := &Trace{}
	t, err := newTable(file, in, ',', true, opts, tr)
	if err != nil {
		return nil, nil, err
	}
	nameCol, gpuCol := "name", "gpus"
	if t.has("sn") {
		nameCol = "sn"
	}
	if t.has("gpu") {
		gpuCol = "gpu"
	}
	if err := t.require(nameCol, gpuCol, "model"); err != nil {
		return nil, nil, err
	}
	var nodes []Node
	seen := map[string]bool{}
	for {
		ok, err := t.next()
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			break
		}
		n := Node{Name: t.str(nameCol), Model: strings.ToLower(t.str("model"))}
		var perr error
		switch {
		case n.Name == "":
			perr = t.errField(nameCol, errors.New("empty: every node needs a name"))
		case seen[n.Name]:
			perr = t.errField(nameCol, fmt.Errorf("node %q listed twice: node names must be unique", n.Name))
		case n.Model == "":
			perr = t.errField("model", errors.New("empty: give the node's GPU model"))
		}
		if perr == nil {
			var g int64
			if g, perr = parseInt(t.str(gpuCol)); perr != nil {
				perr = t.errField(gpuCol, perr)
			} else {
				n.GPUs = int(g)
			}
		}
		for _, c := range []struct {
			name string
			dst  *int64
		}{{"cpu_milli", &n.CPUMilli}, {"memory_mib", &n.MemoryMiB}} {
			if perr != nil || t.str(c.name) == "" {
				continue
			}
			v, err := parseInt(t.str(c.name))
			if err != nil {
				perr = t.errField(c.name, err)
			}
			*c.dst = v
		}
		if perr != nil {
			if err := t.fail(perr); err != nil {
				return nil, nil, err
			}
			continue
		}
		seen[n.Name] = true
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		return nil, tr.Skipped, fmt.Errorf("%s: no nodes: the file needs a header and one row per node", file)
	}
	return nodes, tr.Skipped, nil
}
