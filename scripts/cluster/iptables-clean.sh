#!/usr/bin/env bash
# Removes the packet-filter state the cluster's components leave after they stopped: the KUBE-* chains
# of kubelet, kube-proxy and kube-router, the CNI-* chains of the CNI plugins, the jumps to them, and
# kube-router's ipsets. Chains of anyone else (Docker's DOCKER-*) are not touched.
set -uo pipefail
ours='(KUBE|CNI)-'
for table in raw mangle nat filter; do
  rules="$(iptables-save -t "$table" 2>/dev/null)" || continue
  # Jumps from the built-in chains first, else the chains cannot be deleted.
  grep -E "^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) .*-j $ours" <<<"$rules" | sed 's/^-A /-D /' |
    while read -r rule; do eval "iptables -w -t $table $rule"; done
  chains="$(grep -oE "^:$ours[^ ]+" <<<"$rules" | tr -d :)"
  for chain in $chains; do iptables -w -t "$table" -F "$chain"; done
  for chain in $chains; do iptables -w -t "$table" -X "$chain"; done
done
if command -v ipset >/dev/null; then
  for set in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router|inet6:KUBE-|inet6:kube-router)'); do
    ipset destroy "$set"
  done
fi
exit 0
