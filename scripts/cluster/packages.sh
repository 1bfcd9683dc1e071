#!/usr/bin/env bash
# Debian packages the local cluster runs on. Installs only what is missing; one installer at a time.
#   containerd + runc   the cluster's own container runtime (a separate instance from Docker's)
#   etcd-server         the API server's store; etcd-client for its health check
#   containernetworking-plugins  bridge, host-local, portmap, firewall (CNI)
#   conntrack iptables ipset     kube-proxy and the NetworkPolicy controller
#   docker-registry     the registry images are pushed to and pulled from
#   busybox-static gcc libc6-dev openssl  the pause and helper images, the certificates
set -euo pipefail
packages=(containerd runc etcd-server etcd-client containernetworking-plugins conntrack iptables ipset
  docker-registry busybox-static gcc libc6-dev openssl)
missing=()
want_missing() {
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
}
want_missing
[[ ${#missing[@]} -eq 0 ]] && { echo "cluster packages: installed"; exit 0; }
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
exec 9>"/tmp/racetrack-apt.lock"
flock 9
want_missing
[[ ${#missing[@]} -eq 0 ]] && { echo "cluster packages: installed"; exit 0; }
echo "cluster packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: the packages' own services (etcd, docker-registry, containerd) are not started;
# the cluster runs its own instances with its own configuration and state.
prc=/usr/sbin/policy-rc.d
restore=""
if [[ ! -e $prc ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee $prc >/dev/null; $SUDO chmod +x $prc; restore="$SUDO rm -f $prc"
fi
trap '$restore' EXIT
install() { $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
install || { $SUDO apt-get update -qq && install; }
echo "cluster packages: installed ${missing[*]}"
