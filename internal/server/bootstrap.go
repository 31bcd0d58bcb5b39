package server

import (
	"bufio"
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// Machine is what the server found or was told about this machine.
type Machine struct {
	Name        string
	CPUMilli    int64
	MemoryBytes int64
	GPUs        []v1alpha1.GPUDevice
	GPUModel    string
}

// describeMachine builds the Machine from detection and the --gpus and
// --gpu-model flags; declared GPUs replace detected ones.
func describeMachine(nodeName string, detected []v1alpha1.GPUDevice, declared int, model string) (Machine, error) {
	m := Machine{Name: nodeName, CPUMilli: int64(goruntime.NumCPU()) * 1000}
	if m.Name == "" {
		host, _ := os.Hostname()
		m.Name = sanitizeNodeName(host)
	}
	mem, err := totalMemory()
	if err != nil {
		return m, err
	}
	m.MemoryBytes = mem
	switch {
	case declared > 0:
		for i := 0; i < declared; i++ {
			m.GPUs = append(m.GPUs, v1alpha1.GPUDevice{Index: int32(i), Model: model, Declared: true})
		}
		m.GPUModel = model
	default:
		m.GPUs = detected
		if len(detected) > 0 {
			m.GPUModel = detected[0].Model
		}
		if model != "" {
			m.GPUModel = model
		}
	}
	return m, nil
}

func sanitizeNodeName(host string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		case r == '.':
			b.WriteRune('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 63 {
		name = strings.Trim(name[:63], "-")
	}
	if len(validation.IsDNS1123Label(name)) > 0 {
		return "local"
	}
	return name
}

func totalMemory() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("reading memory size: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing MemTotal: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("MemTotal not found in /proc/meminfo")
}

// registerNode creates or refreshes this machine's Node.
func registerNode(ctx context.Context, s store.Store, m Machine) error {
	gpus := resource.NewQuantity(int64(len(m.GPUs)), resource.DecimalSI)
	spec := v1alpha1.NodeSpec{
		Capacity: v1alpha1.Resources{
			CPU:    resource.NewMilliQuantity(m.CPUMilli, resource.DecimalSI),
			Memory: resource.NewQuantity(m.MemoryBytes, resource.BinarySI),
			GPU:    gpus,
		},
		GPUModel: m.GPUModel,
	}
	for attempt := 0; attempt < 5; attempt++ {
		node := &v1alpha1.Node{}
		err := s.Get(ctx, "", m.Name, node)
		if apierrors.IsNotFound(err) {
			node = &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: m.Name, Labels: map[string]string{"kubernetes.io/hostname": m.Name}}, Spec: spec}
			node.Status.GPUs = m.GPUs
			v1alpha1.SetTypeMeta(node)
			err = s.Create(ctx, node)
		} else if err == nil {
			node.Spec.Capacity, node.Spec.GPUModel = spec.Capacity, spec.GPUModel
			node.Status.GPUs = m.GPUs
			err = s.Update(ctx, node)
		}
		if err == nil || (!apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err)) {
			return err
		}
	}
	return fmt.Errorf("registering node %s: too many conflicts", m.Name)
}

// ensureDefaults creates the default Flavor and Queue on first start. They
// are never overwritten afterwards: the operator may have edited them.
func ensureDefaults(ctx context.Context, s store.Store, m Machine) error {
	flavor := &v1alpha1.Flavor{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.FlavorSpec{GPUModel: m.GPUModel}}
	v1alpha1.SetTypeMeta(flavor)
	if err := s.Create(ctx, flavor); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating default flavor: %w", err)
	}
	queue := &v1alpha1.Queue{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultQueue},
		Spec: v1alpha1.QueueSpec{
			Namespaces:       []string{"*"},
			QueueingStrategy: v1alpha1.BestEffortFIFO,
			Flavors: []v1alpha1.FlavorQuota{{Name: "default", Resources: []v1alpha1.ResourceQuota{
				{Name: v1alpha1.ResourceCPU, NominalQuota: *resource.NewMilliQuantity(m.CPUMilli, resource.DecimalSI)},
				{Name: v1alpha1.ResourceMemory, NominalQuota: *resource.NewQuantity(m.MemoryBytes, resource.BinarySI)},
				{Name: v1alpha1.ResourceGPU, NominalQuota: *resource.NewQuantity(int64(len(m.GPUs)), resource.DecimalSI)},
			}}},
		},
	}
	v1alpha1.SetTypeMeta(queue)
	if err := s.Create(ctx, queue); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating default queue: %w", err)
	}
	return nil
}
