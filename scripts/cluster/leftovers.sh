#!/usr/bin/env bash
# Lists what a stopped cluster left on the machine and fails if anything: processes, mounts, network
# devices, iptables chains, ipsets, cgroups and listening ports of the cluster. `cluster.sh down` runs it
# last, so every stop (CI's included) proves the machine is as before.
set -uo pipefail
RACETRACK_DATA_DIR="${RACETRACK_DATA_DIR:-$HOME/.local/share/racetrack}"
D="$RACETRACK_DATA_DIR/cluster"
found=0
report() {  # report WHAT LINES
  [[ -z "$2" ]] && return 0
  found=1
  printf 'left behind: %s\n' "$1"
  printf '  %s\n' "$2" | head -20
}
report "processes" "$(pgrep -af -- "$D/|kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kube-router|traefik --global" | grep -v -e leftovers.sh -e pgrep)"
report "mounts" "$(grep -F " $D/" /proc/mounts)"
report "network devices" "$(ip -o link show | awk -F': ' '{print $2}' | grep -E '^(cni0|k8s-svc0|kube-)')"
report "veth pairs on cni0" "$(ip -o link show master cni0 2>/dev/null)"
for table in raw mangle nat filter; do
  report "iptables $table chains" "$(iptables-save -t $table 2>/dev/null | grep -E '^:(KUBE|CNI)-')"
done
report "ipsets" "$(ipset list -n 2>/dev/null | grep -iE 'kube')"
report "cgroups" "$(ls -d /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods 2>/dev/null)"
report "listening ports" "$(ss -Hltn 2>/dev/null | awk '{print $4}' | grep -E ':(6443|2379|2380|10248|10249|10250|10256|10257|10259)$')"
if ((found)); then echo "Error: the cluster left the above behind" >&2; exit 1; fi
echo "nothing left behind"
