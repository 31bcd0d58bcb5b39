package scheduler

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// baseDiff compares the state s keeps (see base.go) with one built from
// snap at now from scratch and describes the differences ("" when none).
func baseDiff(s *Scheduler, snap Snapshot, now time.Time) string {
	kept := s.cache.base.st
	if kept == nil {
		return "" // nothing kept: the next cycle builds afresh
	}
	fresh := newState(snap, now)
	fresh.addNodes(snap)
	var b strings.Builder
	bad := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	if len(kept.nodes) != len(fresh.nodes) {
		bad("%d nodes kept, %d built", len(kept.nodes), len(fresh.nodes))
		return b.String()
	}
	for i, k := range kept.nodes {
		f := fresh.nodes[i]
		if k.node != f.node || k.free != f.free || !reflect.DeepEqual(k.gpus, f.gpus) || k.wholeFree != f.wholeFree ||
			k.partial != f.partial || !k.reservedUntil.Equal(f.reservedUntil) {
			bad("node %s: kept free=%v gpus=%v whole=%d partial=%v reserved=%v, built free=%v gpus=%v whole=%d partial=%v",
				f.node.Name, k.free, k.gpus, k.wholeFree, k.partial, k.reservedUntil, f.free, f.gpus, f.wholeFree, f.partial)
		}
	}
	members := func(set *bitset) []int {
		var out []int
		set.each(func(o int) bool { out = append(out, o); return true })
		return out
	}
	for name, f := range fresh.indexes {
		k := kept.indexes[name]
		if k == nil {
			bad("flavor %s: no index kept", name)
			continue
		}
		if len(k.nodes) != len(f.nodes) || len(k.buckets) != len(f.buckets) {
			bad("flavor %s: %d nodes, %d buckets kept; %d, %d built", name, len(k.nodes), len(k.buckets), len(f.nodes), len(f.buckets))
			continue
		}
		for w := range f.buckets {
			if km, fm := members(&k.buckets[w]), members(&f.buckets[w]); !reflect.DeepEqual(km, fm) || k.buckets[w].n != f.buckets[w].n {
				bad("flavor %s bucket %d: kept %v, built %v", name, w, km, fm)
			}
		}
		if km, fm := members(&k.shared), members(&f.shared); !reflect.DeepEqual(km, fm) {
			bad("flavor %s shared: kept %v, built %v", name, km, fm)
		}
		for l := range f.levels {
			for d := range f.levels[l] {
				if kd, fd := k.levels[l][d], f.levels[l][d]; kd.name != fd.name || kd.wholeFree != fd.wholeFree {
					bad("flavor %s domain %s: kept %d whole free, built %d", name, fd.name, kd.wholeFree, fd.wholeFree)
				}
			}
		}
	}
	type jobView struct {
		Flavor, By, Queue string
		Used              Amounts
		Evicting          bool
		Level             int32 // attained-service level, where the queue has levels
		Start, End        time.Time
		Placed            []string
	}
	view := func(ji *jobInfo) jobView {
		v := jobView{Flavor: ji.flavor, By: ji.by, Used: ji.used, Evicting: ji.evicting, Level: ji.level, Start: ji.start, End: ji.end}
		if ji.queue != nil {
			v.Queue = ji.queue.name
		}
		for _, p := range ji.placed {
			v.Placed = append(v.Placed, fmt.Sprintf("%s/%d/%v/%d", p.n.node.Name, p.g, p.p.GPUs, p.p.GPUMilli))
		}
		return v
	}
	jobs := func(list []*jobInfo) map[*v1alpha1.Job]jobView {
		m := map[*v1alpha1.Job]jobView{}
		for _, ji := range list {
			m[ji.job] = view(ji)
		}
		return m
	}
	if k, f := jobs(kept.admitted), jobs(fresh.admitted); !reflect.DeepEqual(k, f) {
		bad("admitted jobs: kept %d %v, built %d %v", len(k), k, len(f), f)
	}
	for i, ji := range kept.admitted {
		if ji.at != i {
			bad("admitted job %s at %d says it is at %d", ji.key, i, ji.at)
		}
	}
	if k, f := jobs(kept.evicting), jobs(fresh.evicting); !reflect.DeepEqual(k, f) {
		bad("evicting: kept %v, built %v", k, f)
	}
	if len(kept.preemptors)+len(fresh.preemptors) > 0 && !reflect.DeepEqual(kept.preemptors, fresh.preemptors) {
		bad("preemptors: kept %v, built %v", kept.preemptors, fresh.preemptors)
	}
	for i, f := range fresh.queueList {
		k := kept.queueList[i]
		if k.name != f.name || k.q != f.q {
			bad("queue %d: kept %s, built %s", i, k.name, f.name)
			continue
		}
		if kj, fj := jobs(k.admitted), jobs(f.admitted); !reflect.DeepEqual(kj, fj) {
			bad("queue %s admitted: kept %v, built %v", f.name, kj, fj)
		}
		for a, ji := range k.admitted {
			if ji.qat != a {
				bad("queue %s: admitted job %s at %d says it is at %d", f.name, ji.key, a, ji.qat)
			}
		}
		for x, ff := range f.flavors {
			kf := k.flavors[x]
			if kf.used != ff.used || kf.held != ff.held || (ff.pool != nil && *kf.pool != *ff.pool) {
				bad("queue %s flavor %s: kept used=%v held=%v, built used=%v held=%v", f.name, ff.name, kf.used, kf.held, ff.used, ff.held)
			}
		}
	}
	return b.String()
}
