#!/usr/bin/env bash
# The local single-node Kubernetes cluster: `cluster.sh up | down | status | reset`.
# State lives in $RACETRACK_DATA_DIR/cluster; the binaries come from build.sh's caches. `down` stops
# every process and removes every mount, network device and iptables chain the cluster made, but keeps
# its state (etcd, registry), so the next `up` brings back what was deployed; `reset` also wipes it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
RACETRACK_DATA_DIR="${RACETRACK_DATA_DIR:-$HOME/.local/share/racetrack}"
D="$RACETRACK_DATA_DIR/cluster"
RUN="$D/run" LOG="$D/logs" VAR="$D/var" ETC="$D/etc"
BIN="$RACETRACK_CACHE_DIR/kubernetes-$KUBERNETES_VERSION/bin"
CSOCK="$RUN/containerd/containerd.sock"
REGISTRY="127.0.0.1:${RACETRACK_CLUSTER_REGISTRY_PORT:-7060}"
INGRESS="127.0.0.1:${RACETRACK_CLUSTER_INGRESS_PORT:-7080}"
POD_CIDR=10.244.0.0/16 SVC_CIDR=10.96.0.0/16 DNS_IP=10.96.0.10
NODE="$(hostname | tr '[:upper:]' '[:lower:]')"
# One cluster per machine: kubelet's cgroups, cni0 and the fixed ports are machine-wide.
OWNER=/run/racetrack-cluster.owner
export KUBECONFIG="$D/kubeconfig" PATH="$BIN:$PATH"
COMPONENTS=(etcd containerd registry kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy
  kube-router traefik)

log() { printf '%s\n' "$*"; }
die() { printf 'Error: %s\n' "$*" >&2; exit 1; }
alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start() {  # start NAME COMMAND... : in its own session, with a pid file and a log file
  local name="$1"; shift
  alive "$name" && return 0
  setsid "$@" >"$LOG/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

await() {  # await WHAT SECONDS COMMAND... : retries COMMAND until it succeeds
  local what="$1" limit="$2" t0=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - t0 > limit )); then
      die "$what not ready after ${limit}s; its log: $LOG/${what%% *}.log"
    fi
    sleep 0.5
  done
}

node_ip() { ip -4 route get 1.1.1.1 | awk '{for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1)}'; }

configs() {
  mkdir -p "$ETC/cni" "$ETC/certs.d/$REGISTRY" "$VAR/registry" "$VAR/local-path"
  cat >"$ETC/containerd.toml" <<C
version = 2
root = "$VAR/containerd"
state = "$RUN/containerd"
[grpc]
  address = "$CSOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REGISTRY/cluster/pause:3.10"
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = true
  # root on these machines lacks CAP_SYS_RESOURCE, so runc cannot give the sandbox its usual
  # oom_score_adj of -998; containerd's own score is used instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$ETC/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$ETC/certs.d"
C
  # The registry speaks plain HTTP on loopback; containerd (in the host's network) pulls from it there.
  cat >"$ETC/certs.d/$REGISTRY/hosts.toml" <<C
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve", "push"]
C
  cat >"$ETC/cni/10-racetrack.conflist" <<C
{"cniVersion": "1.0.0", "name": "racetrack", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "${POD_CIDR%/16}/24"}]], "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "$RUN/cni-ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "firewall"}
]}
C
  cat >"$ETC/registry.yaml" <<C
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $VAR/registry}
  delete: {enabled: true}
http: {addr: "$REGISTRY"}
C
  cat >"$ETC/kubelet.yaml" <<C
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $D/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CSOCK
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
resolvConf: /etc/resolv.conf
serializeImagePulls: false
# A development machine's disk is often fuller than kubelet's defaults accept before evicting.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
C
  cat >"$ETC/kube-proxy.yaml" <<C
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $ETC/kube-proxy.kubeconfig}
hostnameOverride: $NODE
mode: iptables
clusterCIDR: $POD_CIDR
# conntrack sysctls are read-only in some VMs and containers; these leave them as they are.
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
oomScoreAdj: 0
C
}

built() { [[ -x "$RACETRACK_CACHE_DIR/$1-$2/bin/$1" ]]; }

addons() {  # the cluster's own objects, with this cluster's registry and versions filled in
  local files=("$here/addons/coredns.yaml" "$here/addons/host-addons.yaml")
  built local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" && files+=("$here/addons/local-path.yaml")
  local f
  for f in "${files[@]}"; do
    sed -e "s|@REGISTRY@|$REGISTRY|g" -e "s|@COREDNS_VERSION@|$COREDNS_VERSION|g" -e "s|@DNS_IP@|$DNS_IP|g" \
    -e "s|@LOCAL_PATH_PROVISIONER_VERSION@|$LOCAL_PATH_PROVISIONER_VERSION|g" -e "s|@BUSYBOX@|$(busybox_tag)|g" \
    -e "s|@LOCAL_PATH_DIR@|$VAR/local-path|g" "$f"
    echo "---"
  done
}

running() {
  local c; for c in "${COMPONENTS[@]}"; do alive "$c" || [[ $c == traefik || $c == kube-router ]] || return 1; done
  kubectl get --raw /readyz >/dev/null 2>&1
}

up() {
  local t0=$SECONDS
  [[ -x "$BIN/k8s" ]] || die "Kubernetes is not built; run \`make cluster\` (builds it) instead of this script"
  local other
  if other="$(other_owner)"; then
    die "a cluster with state in $other runs on this machine; stop it first: RACETRACK_DATA_DIR=$(dirname "$other") make cluster-down"
  fi
  if running; then
    start_addon_hosts  # an add-on built since the cluster started
    log "cluster already running (kubeconfig $D/kubeconfig)"
    return 0
  fi
  mkdir -p "$RUN" "$LOG" "$VAR" "$ETC"
  echo "$D" >$OWNER
  local ip; ip="$(node_ip)"
  bash "$here/certs.sh" "$D" "$NODE" "$ip"
  mkdir -p "$D/bin"
  ln -sfn "$BIN/kubectl" "$D/bin/kubectl"
  configs
  sysctl -qw net.ipv4.ip_forward=1
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
  # Service addresses that kube-proxy has not rewritten go to an empty bridge, never out to the network.
  ip link show k8s-svc0 >/dev/null 2>&1 || { ip link add k8s-svc0 type bridge && ip link set k8s-svc0 up; }
  ip route replace "$SVC_CIDR" dev k8s-svc0
  start etcd etcd --name racetrack --data-dir "$VAR/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster racetrack=http://127.0.0.1:2380
  start containerd containerd --config "$ETC/containerd.toml"
  start registry docker-registry serve "$ETC/registry.yaml"
  await "etcd" 60 etcdctl --endpoints http://127.0.0.1:2379 endpoint health
  await "registry" 30 curl -sf "http://$REGISTRY/v2/"
  bash "$here/images.sh" "$REGISTRY"
  start kube-apiserver k8s kube-apiserver --etcd-servers=http://127.0.0.1:2379 \
    --advertise-address="$ip" --secure-port=6443 --service-cluster-ip-range="$SVC_CIDR" \
    --client-ca-file="$D/pki/ca.crt" --tls-cert-file="$D/pki/apiserver.crt" --tls-private-key-file="$D/pki/apiserver.key" \
    --kubelet-client-certificate="$D/pki/apiserver-kubelet-client.crt" --kubelet-client-key="$D/pki/apiserver-kubelet-client.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$D/pki/sa.pub" --service-account-signing-key-file="$D/pki/sa.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true --profiling=false
  await "kube-apiserver" 180 kubectl get --raw /readyz
  start kube-controller-manager k8s kube-controller-manager --kubeconfig="$ETC/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$ETC/controller-manager.kubeconfig" --authorization-kubeconfig="$ETC/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true --profiling=false \
    --cluster-signing-cert-file="$D/pki/ca.crt" --cluster-signing-key-file="$D/pki/ca.key" \
    --root-ca-file="$D/pki/ca.crt" --service-account-private-key-file="$D/pki/sa.key" \
    --service-cluster-ip-range="$SVC_CIDR" --cluster-cidr="$POD_CIDR" --allocate-node-cidrs=true --node-cidr-mask-size=24
  start kube-scheduler k8s kube-scheduler --kubeconfig="$ETC/scheduler.kubeconfig" \
    --authentication-kubeconfig="$ETC/scheduler.kubeconfig" --authorization-kubeconfig="$ETC/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false
  start kubelet k8s kubelet --config="$ETC/kubelet.yaml" --kubeconfig="$ETC/kubelet.kubeconfig" \
    --root-dir="$VAR/kubelet" --cert-dir="$VAR/kubelet/pki" --hostname-override="$NODE" --node-ip="$ip" --oom-score-adj=0
  start kube-proxy k8s kube-proxy --config="$ETC/kube-proxy.yaml"
  await "kubelet (node $NODE Ready)" 300 kubectl wait --for=condition=Ready "node/$NODE" --timeout=2s
  addons | kubectl apply -f - >/dev/null
  start_addon_hosts
  await "coredns" 180 kubectl -n kube-system rollout status deploy/coredns --timeout=2s
  echo "$REGISTRY" >"$D/registry"
  log "cluster up in $((SECONDS - t0))s"
  log "  export KUBECONFIG=$D/kubeconfig PATH=$BIN:\$PATH"
  log "  registry $REGISTRY (docker push $REGISTRY/NAME:TAG), ingress http://$INGRESS"
}

start_addon_hosts() {
  # `make cluster` builds both; started alone after a failed build, the cluster runs without the missing one.
  if ! built kube-router "$KUBE_ROUTER_VERSION"; then
    log "warning: kube-router is not built: NetworkPolicies are not enforced (make cluster builds it)"
  else
    # NetworkPolicy enforcement: kube-router's policy controller only (pods keep the bridge CNI's routes).
    start kube-router "$RACETRACK_CACHE_DIR/kube-router-$KUBE_ROUTER_VERSION/bin/kube-router" \
      --kubeconfig="$ETC/kube-router.kubeconfig" --hostname-override="$NODE" \
      --run-router=false --run-service-proxy=false --run-firewall=true \
      --service-cluster-ip-range="$SVC_CIDR" --metrics-port=0 --health-port=0
  fi
  if ! built traefik "$TRAEFIK_VERSION"; then
    log "warning: traefik is not built: Ingress objects are not served (make cluster builds it)"
    return 0
  fi
  # The ingress controller on the host: it reaches pod addresses directly over cni0.
  KUBECONFIG="$ETC/traefik.kubeconfig" start traefik "$RACETRACK_CACHE_DIR/traefik-$TRAEFIK_VERSION/bin/traefik" \
    --global.checknewversion=false --global.sendanonymoususage=false --log.level=WARN \
    --entrypoints.web.address="$INGRESS" --providers.kubernetesingress \
    --providers.kubernetesingress.ingressendpoint.ip=127.0.0.1
  echo "$INGRESS" >"$D/ingress"
}

stop() {  # stop NAME... : SIGTERM, up to 10 s, then SIGKILL
  local name pid pids=()
  for name in "$@"; do
    [[ -f "$RUN/$name.pid" ]] || continue
    pid="$(cat "$RUN/$name.pid")"
    kill "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$RUN/$name.pid"
  done
  for _ in $(seq 50); do
    local any=false
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && any=true; done
    $any || return 0
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

other_owner() {  # the state directory of a running cluster that is not this one, if any
  [[ -f $OWNER && "$(cat $OWNER)" != "$D" ]] && pgrep -f "kube-apiserver.*$(cat $OWNER)" >/dev/null && cat $OWNER
}

down() {
  local t0=$SECONDS other
  # The clean-up below is machine-wide (iptables chains, cni0): never run it under another cluster.
  if other="$(other_owner)"; then
    log "the running cluster is not this one (state in $other); nothing to stop"
    return 0
  fi
  set +e
  stop traefik kube-router kube-proxy kubelet
  if [[ -S "$CSOCK" ]]; then
    # Like a node losing power: the pods' processes end, their objects stay in etcd for the next `up`.
    for task in $(ctr --address "$CSOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$CSOCK" -n k8s.io tasks kill -s SIGKILL "$task" >/dev/null 2>&1
    done
  fi
  stop kube-scheduler kube-controller-manager kube-apiserver
  stop containerd etcd registry
  # Shims of this containerd only (Docker's have another -address).
  pkill -f -- "containerd-shim-runc-v2 .*-address $CSOCK" 2>/dev/null
  grep -oE " $D/[^ ]+" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  ip link del cni0 2>/dev/null
  ip link del k8s-svc0 2>/dev/null
  [[ -x "$BIN/k8s" ]] && k8s kube-proxy --cleanup >/dev/null 2>&1
  local kr="$RACETRACK_CACHE_DIR/kube-router-$KUBE_ROUTER_VERSION/bin/kube-router"
  [[ -x "$kr" ]] && "$kr" --cleanup-config >/dev/null 2>&1
  bash "$here/iptables-clean.sh"
  for cg in /sys/fs/cgroup/*/kubepods; do
    [[ -d "$cg" ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$RUN/cni-ipam" "$RUN/containerd" "$D/registry" "$D/ingress"
  [[ -f $OWNER && "$(cat $OWNER)" == "$D" ]] && rm -f $OWNER
  set -e
  log "cluster stopped in $((SECONDS - t0))s"
  bash "$here/leftovers.sh"
}

status() {
  local c
  for c in "${COMPONENTS[@]}"; do
    if alive "$c"; then
      printf '%-24s running  pid %-7s rss %s\n' "$c" "$(cat "$RUN/$c.pid")" "$(awk '/VmRSS/ {print $2 " " $3}' "/proc/$(cat "$RUN/$c.pid")/status")"
    else
      printf '%-24s stopped\n' "$c"
    fi
  done
  alive kube-apiserver && kubectl get nodes -o wide
  return 0
}

reset() { down; rm -rf "$D"; log "cluster state removed ($D)"; }

case "${1:-}" in
  up | down | status | reset) "$1" ;;
  *) echo "usage: $0 up|down|status|reset  (down keeps the cluster's state, reset removes it)" >&2; exit 2 ;;
esac
