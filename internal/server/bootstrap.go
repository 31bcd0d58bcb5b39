package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"reflect"
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

// annotationMachineDefaults, on the default Flavor and Queue, holds a hash
// of the spec the server last wrote from the machine's capacity: an object
// whose spec still has that hash was not edited since, and follows the
// machine; one edited since is left as it is.
const annotationMachineDefaults = "skiff.dev/machine-defaults"

// ensureDefaults creates the default Flavor and Queue on first start. With
// follow, later starts bring them to this machine's capacity (GPUs declared
// or detected now, CPU and memory) unless someone edited them since the
// server wrote them; an edited one is left as it is, with a log line when
// it no longer matches the machine. Failing to update one is logged, not
// fatal: the server starts with the defaults as they were.
func ensureDefaults(ctx context.Context, s store.Store, m Machine, follow bool, log *slog.Logger) error {
	flavor := &v1alpha1.Flavor{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.FlavorSpec{GPUModel: m.GPUModel}}
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
	for _, obj := range []v1alpha1.Object{flavor, queue} {
		if err := ensureMachineDefault(ctx, s, obj, follow, log); err != nil {
			return err
		}
	}
	return nil
}

// ensureMachineDefault creates want or, with follow, updates the stored
// object of its name to want's spec if the stored spec is still the one
// the server last wrote.
func ensureMachineDefault(ctx context.Context, s store.Store, want v1alpha1.Object, follow bool, log *slog.Logger) error {
	k, err := v1alpha1.KindOf(want)
	if err != nil {
		return err
	}
	v1alpha1.SetTypeMeta(want)
	v1alpha1.Default(want)
	wantHash := specHash(want)
	want.SetAnnotations(map[string]string{annotationMachineDefaults: wantHash})
	for attempt := 0; attempt < 5; attempt++ {
		err := s.Create(ctx, want.DeepCopyObject().(v1alpha1.Object))
		if err == nil || !apierrors.IsAlreadyExists(err) {
			if err != nil {
				return fmt.Errorf("creating the default %s: %w", k.Singular, err)
			}
			return nil
		}
		if !follow {
			return nil
		}
		cur := k.New()
		if err := s.Get(ctx, "", want.GetName(), cur); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("reading the default %s: %w", k.Singular, err)
		}
		defaulted := cur.DeepCopyObject().(v1alpha1.Object)
		v1alpha1.Default(defaulted)
		curHash, written := specHash(defaulted), cur.GetAnnotations()[annotationMachineDefaults]
		switch {
		case curHash == wantHash && written == wantHash:
			return nil
		case curHash == wantHash && written == "":
			// What the server would write, unmarked (an older version
			// made it): mark it, so that it follows the machine from now.
		case curHash == wantHash:
			return nil // edited since, and matching the machine: still the operator's
		case written != curHash:
			log.Info("the default "+k.Singular+" was edited (or made by an older version) and is left as it is, though this machine's capacity differs: edit it to match if you want",
				"edit", "skiff get "+k.Singular+" "+want.GetName()+" -o yaml")
			return nil
		default:
			setSpec(cur, want)
			log.Info("the default "+k.Singular+" follows this machine's capacity", "name", want.GetName())
		}
		ann := cur.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[annotationMachineDefaults] = wantHash
		cur.SetAnnotations(ann)
		err = s.Update(ctx, cur)
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) {
			log.Warn("the default "+k.Singular+" could not be brought to this machine's capacity; it is left as it was", "err", err)
			return nil
		}
	}
	log.Warn("the default " + k.Singular + " could not be brought to this machine's capacity (it kept changing); it is left as it was")
	return nil
}

// specHash is a hash of obj's spec.
func specHash(obj v1alpha1.Object) string {
	b, _ := json.Marshal(reflect.ValueOf(obj).Elem().FieldByName("Spec").Interface())
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

func setSpec(dst, src v1alpha1.Object) {
	reflect.ValueOf(dst).Elem().FieldByName("Spec").Set(reflect.ValueOf(src).Elem().FieldByName("Spec"))
}
