#!/bin/bash
# compare.sh OLD NEW: runs the same `skiff sim` commands with two skiff
# binaries, one after the other, and reports each command's wall time and
# peak memory and whether the two JSON reports are byte-identical.
#
#   OLD from a commit: git archive <commit> | tar -x -C /tmp/old && (cd /tmp/old && go build -o /tmp/skiff-old ./cmd/skiff)
#   bench/sim/compare.sh /tmp/skiff-old bin/skiff
#
# The real traces are read from $SKIFF_TRACES (default /work/shared/traces);
# commands whose trace is missing are skipped. Results go to a temporary
# folder, printed at the end.
set -u
old=$1
new=$2
T=${SKIFF_TRACES:-/work/shared/traces}
out=$(mktemp -d)
P=fifo,sjf-oracle,las,drf,default
cases=(
	"synthetic-contended|--format synthetic --trace jobs=3000,nodes=30,gpus=8,load=1.3,tenants=6 --policies $P"
	"synthetic-failures|--format synthetic --trace jobs=3000,nodes=30,gpus=8,load=1.3,tenants=6 --policies $P --node-mtbf 200h --node-repair 2h --restart-penalty 30s"
	"synthetic-period|--format synthetic --trace jobs=3000,nodes=30,gpus=8,load=1.3,tenants=6 --policies $P --interval 60s"
	"gavel|--format gavel --trace $T/gavel-philly/seed=0 --cluster v100=200,p100=200,k80=200 --policies fifo,default"
	"alibaba|--format alibaba2023 --trace $T/alibaba-pai-gpu-2023/openb_pod_list_default.csv --policies $P"
)
for c in "${cases[@]}"; do
	name=${c%%|*}
	args=${c#*|}
	if [[ $args == *"$T/"* ]]; then
		path=${args#*--trace }
		path=${path%% *}
		if [[ ! -e $path ]]; then
			echo "$name: skipped ($path not found)"
			continue
		fi
	fi
	for b in old new; do
		bin=$old
		[[ $b == new ]] && bin=$new
		# shellcheck disable=SC2086 # args are words
		/usr/bin/time -f "%e %M" -o "$out/$name.$b.time" "$bin" sim $args -o json >"$out/$name.$b.json" 2>"$out/$name.$b.err" ||
			echo "$name: $b failed (see $out/$name.$b.err)"
	done
	read -r ot om <"$out/$name.old.time"
	read -r nt nm <"$out/$name.new.time"
	same="DIFFERENT JSON"
	cmp -s "$out/$name.old.json" "$out/$name.new.json" && same="identical JSON"
	printf '%-20s old %7.1f s %5d MB   new %7.1f s %5d MB   %s\n' "$name" "$ot" $((om / 1024)) "$nt" $((nm / 1024)) "$same"
done
echo "reports in $out"
