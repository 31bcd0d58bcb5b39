// Package packing is the placement study of the ATC '23 fragmentation
// paper ("Beware of Fragmentation", Weng et al.): the trace's tasks arrive
// in order and never leave, each is placed by a placement policy, and when
// the cluster first rejects a task the study measures the share of GPU
// capacity that is unallocatable, i.e. that no task of the trace's size
// mix could use.
//
// A node's fragmentation for a task class m (Weng et al., §4): if m cannot
// run on the node at all (CPU, memory, GPU model or GPU room), every free
// GPU share of the node is a fragment; if it can, the GPUs whose free share
// is below min(m's GPU request, one GPU) are. A node's fragmentation for
// the workload is the popularity-weighted sum over the classes.
//
//   - best-fit: the feasible node with the least resources left after the
//     placement (free GPU share plus free CPU share), and on it the
//     fullest GPU that fits.
//   - frag-aware: fragmentation gradient descent, the node and GPU whose
//     placement grows the node's workload fragmentation the least, then
//     best-fit among equals.
//
// The scheduler core places with bin-packing but no fragmentation measure
// and has no hook for another node order, which is why this study has its
// own placement model.
package packing
