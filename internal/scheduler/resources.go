package scheduler

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"

	"skiff.dev/skiff/api/v1alpha1"
)

// Amounts are resource amounts in integer base units: milli-CPU, bytes and
// milli-GPU, so that arithmetic is exact.
type Amounts struct {
	CPUMilli int64
	Memory   int64
	GPUMilli int64
}

// unlimited stands for "no limit" (an unset borrowing limit). It is far
// below MaxInt64 so that adding a usage to it cannot overflow.
const unlimited = int64(1) << 60

// Add returns a+b.
func (a Amounts) Add(b Amounts) Amounts {
	return Amounts{a.CPUMilli + b.CPUMilli, a.Memory + b.Memory, a.GPUMilli + b.GPUMilli}
}

// Sub returns a-b.
func (a Amounts) Sub(b Amounts) Amounts {
	return Amounts{a.CPUMilli - b.CPUMilli, a.Memory - b.Memory, a.GPUMilli - b.GPUMilli}
}

// Scale returns a*n.
func (a Amounts) Scale(n int64) Amounts {
	return Amounts{a.CPUMilli * n, a.Memory * n, a.GPUMilli * n}
}

// posPart clamps every negative component to zero.
func (a Amounts) posPart() Amounts {
	return Amounts{max(a.CPUMilli, 0), max(a.Memory, 0), max(a.GPUMilli, 0)}
}

// min returns the component-wise minimum.
func (a Amounts) min(b Amounts) Amounts {
	return Amounts{min(a.CPUMilli, b.CPUMilli), min(a.Memory, b.Memory), min(a.GPUMilli, b.GPUMilli)}
}

// IsZero reports whether every component is zero.
func (a Amounts) IsZero() bool { return a == Amounts{} }

// Fits reports whether a fits within limit, and if not, which resource does not.
func (a Amounts) Fits(limit Amounts) (bool, string) {
	switch {
	case a.GPUMilli > limit.GPUMilli:
		return false, v1alpha1.ResourceGPU
	case a.CPUMilli > limit.CPUMilli:
		return false, v1alpha1.ResourceCPU
	case a.Memory > limit.Memory:
		return false, v1alpha1.ResourceMemory
	}
	return true, ""
}

// le is Fits without the reason, for hot paths.
func (a Amounts) le(b Amounts) bool {
	return a.GPUMilli <= b.GPUMilli && a.CPUMilli <= b.CPUMilli && a.Memory <= b.Memory
}

// Get returns the amount of a named resource.
func (a Amounts) Get(name string) int64 {
	switch name {
	case v1alpha1.ResourceCPU:
		return a.CPUMilli
	case v1alpha1.ResourceMemory:
		return a.Memory
	case v1alpha1.ResourceGPU:
		return a.GPUMilli
	}
	return 0
}

// Format renders one resource of a in the user's units.
func (a Amounts) Format(name string) string {
	return formatAmount(name, a.Get(name))
}

func formatAmount(name string, v int64) string {
	if v >= unlimited/2 {
		return "unlimited"
	}
	switch name {
	case v1alpha1.ResourceCPU, v1alpha1.ResourceGPU:
		// Whole units are by far the most common; skip resource.Quantity's
		// allocations for them since reasons are built for every pending job.
		if v%1000 == 0 {
			return strconv.FormatInt(v/1000, 10)
		}
		return resource.NewMilliQuantity(v, resource.DecimalSI).String()
	case v1alpha1.ResourceMemory:
		return resource.NewQuantity(v, resource.BinarySI).String()
	}
	return fmt.Sprint(v)
}

// String renders all three resources, e.g. "cpu=2 memory=8Gi gpu=1".
func (a Amounts) String() string {
	return "cpu=" + a.Format(v1alpha1.ResourceCPU) + " memory=" + a.Format(v1alpha1.ResourceMemory) + " gpu=" + a.Format(v1alpha1.ResourceGPU)
}

// FromResources converts a replica's request or a node's capacity.
func FromResources(r v1alpha1.Resources) Amounts {
	var a Amounts
	if r.CPU != nil {
		a.CPUMilli = r.CPU.MilliValue()
	}
	if r.Memory != nil {
		a.Memory = r.Memory.Value()
	}
	if r.GPU != nil {
		a.GPUMilli = r.GPU.MilliValue()
	}
	return a
}

// wholeGPUs is how many GPU devices a replica's request occupies
// exclusively. A fractional request (under one GPU) occupies none: it
// shares a device with others (see isFractional).
func wholeGPUs(a Amounts) int {
	if isFractional(a) {
		return 0
	}
	return int((a.GPUMilli + 999) / 1000)
}

// isFractional reports whether a replica asks for part of one GPU.
func isFractional(a Amounts) bool { return a.GPUMilli > 0 && a.GPUMilli < 1000 }

// Quota converts a queue's nominal quota in one flavor to Amounts.
// Resources the flavor does not list have no quota.
func Quota(f v1alpha1.FlavorQuota) Amounts {
	var a Amounts
	for _, r := range f.Resources {
		set(&a, r.Name, quantityIn(r.Name, r.NominalQuota))
	}
	return a
}

// borrowingLimit is what a queue may borrow beyond nominal in one flavor;
// an unset limit is unlimited.
func borrowingLimit(f v1alpha1.FlavorQuota) Amounts {
	a := Amounts{unlimited, unlimited, unlimited}
	for _, r := range f.Resources {
		if r.BorrowingLimit != nil {
			set(&a, r.Name, quantityIn(r.Name, *r.BorrowingLimit))
		}
	}
	return a
}

// lendingLimit is what a queue lends its cohort in one flavor; unset means
// all of its nominal quota.
func lendingLimit(f v1alpha1.FlavorQuota) Amounts {
	a := Quota(f)
	for _, r := range f.Resources {
		if r.LendingLimit != nil {
			set(&a, r.Name, min(a.Get(r.Name), quantityIn(r.Name, *r.LendingLimit)))
		}
	}
	return a
}

func quantityIn(name string, q resource.Quantity) int64 {
	if name == v1alpha1.ResourceMemory {
		return q.Value()
	}
	return q.MilliValue()
}

func set(a *Amounts, name string, v int64) {
	switch name {
	case v1alpha1.ResourceCPU:
		a.CPUMilli = v
	case v1alpha1.ResourceMemory:
		a.Memory = v
	case v1alpha1.ResourceGPU:
		a.GPUMilli = v
	}
}

// JobRequest is the total a job asks for at its full size.
func JobRequest(j *v1alpha1.Job) Amounts {
	var total Amounts
	for _, g := range j.Spec.ReplicaGroups {
		total = total.Add(FromResources(g.Template.Resources).Scale(int64(g.Replicas)))
	}
	return total
}

// AdmittedRequest is what an admitted job holds: one replica's request per
// placement it was given, which is less than JobRequest when an elastic
// job was admitted below its full size. A job without placements holds its
// full request.
func AdmittedRequest(j *v1alpha1.Job) Amounts {
	adm := j.Status.Admission
	if adm == nil || len(adm.Placements) == 0 {
		return JobRequest(j)
	}
	var total Amounts
	for _, p := range adm.Placements {
		for _, g := range j.Spec.ReplicaGroups {
			if g.Name == p.Group {
				total = total.Add(FromResources(g.Template.Resources))
				break
			}
		}
	}
	return total
}

// minRequest is the total at every elastic group's minimum size.
func minRequest(j *v1alpha1.Job) Amounts {
	var total Amounts
	for _, g := range j.Spec.ReplicaGroups {
		total = total.Add(FromResources(g.Template.Resources).Scale(int64(minReplicas(g))))
	}
	return total
}

func minReplicas(g v1alpha1.ReplicaGroup) int32 {
	if g.MinReplicas != nil && *g.MinReplicas >= 0 && *g.MinReplicas < g.Replicas {
		return *g.MinReplicas
	}
	return g.Replicas
}

var resourceNames = [...]string{v1alpha1.ResourceGPU, v1alpha1.ResourceCPU, v1alpha1.ResourceMemory}
