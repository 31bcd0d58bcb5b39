// Package inventory keeps Skiff's Node objects in step with a Kubernetes
// cluster's nodes, so that the scheduler sees the cluster as it sees a
// machine in embedded mode.
//
// Each Kubernetes node becomes a Node of the same name with its labels (the
// topology levels of flavors are label keys such as a rack label) and a
// capacity of what it can allocate (cpu, memory, nvidia.com/gpu) minus what
// pods Skiff does not manage request there. A node that is not Ready, is
// cordoned, or carries a NoSchedule or NoExecute taint Skiff's pods do not
// tolerate is unschedulable. The translation (NodeFor) is pure; Syncer is
// the level-triggered loop around it.
package inventory
