package scheduler

import (
	"fmt"

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
	switch name {
	case v1alpha1.ResourceCPU:
		return resource.NewMilliQuantity(a.CPUMilli, resource.DecimalSI).String()
	case v1alpha1.ResourceMemory:
		return resource.NewQuantity(a.Memory, resource.BinarySI).String()
	case v1alpha1.ResourceGPU:
		return resource.NewMilliQuantity(a.GPUMilli, resource.DecimalSI).String()
	}
	return fmt.Sprint(a.Get(name))
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

// wholeGPUs is how many GPU devices a replica's request occupies. A
// fractional request holds one device exclusively until GPU sharing lands.
func wholeGPUs(a Amounts) int {
	return int((a.GPUMilli + 999) / 1000)
}

// Quota converts a queue's quota in one flavor to Amounts. Resources the
// flavor does not list have no quota.
func Quota(f v1alpha1.FlavorQuota) Amounts {
	var a Amounts
	for _, r := range f.Resources {
		q := r.NominalQuota
		switch r.Name {
		case v1alpha1.ResourceCPU:
			a.CPUMilli = q.MilliValue()
		case v1alpha1.ResourceMemory:
			a.Memory = q.Value()
		case v1alpha1.ResourceGPU:
			a.GPUMilli = q.MilliValue()
		}
	}
	return a
}

// JobRequest is the total a job asks for at its full size.
func JobRequest(j *v1alpha1.Job) Amounts {
	var total Amounts
	for _, g := range j.Spec.ReplicaGroups {
		total = total.Add(FromResources(g.Template.Resources).Scale(int64(g.Replicas)))
	}
	return total
}
