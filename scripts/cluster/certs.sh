#!/usr/bin/env bash
# `certs.sh DIR NODE NODE_IP`: the cluster's PKI (one CA, a serving certificate for the API server, a
# client certificate per component) and a kubeconfig per client, with openssl only. Existing keys are
# kept; the API server's certificate is reissued when the node's address changed.
set -euo pipefail
dir="$1" node="$2" node_ip="$3"
pki="$dir/pki"
mkdir -p "$pki"
cd "$pki"
umask 077
days=3650
if [[ ! -f ca.crt ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days $days -subj "/CN=racetrack-cluster-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyCertSign" 2>/dev/null
fi
issue() {  # issue NAME SUBJECT EXTENSIONS...
  local name="$1" subject="$2"; shift 2
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -subj "$subject" 2>/dev/null |
    openssl x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days $days -out "$name.crt" \
      -extfile <(printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$@") 2>/dev/null
}
client() {  # client NAME SUBJECT
  [[ -f "$1.crt" ]] || issue "$1" "$2" "extendedKeyUsage=clientAuth"
}
sans="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sans+=",DNS:localhost,DNS:$node,IP:127.0.0.1,IP:10.96.0.1,IP:$node_ip"
if [[ "$(cat apiserver.sans 2>/dev/null)" != "$sans" ]]; then
  issue apiserver "/CN=kube-apiserver" "extendedKeyUsage=serverAuth" "subjectAltName=$sans"
  echo "$sans" > apiserver.sans
fi
client admin "/O=system:masters/CN=racetrack-cluster-admin"
client apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
client controller-manager "/CN=system:kube-controller-manager"
client scheduler "/CN=system:kube-scheduler"
client kube-proxy "/CN=system:kube-proxy"
# The node's certificate names the node, so it is reissued with the host name.
[[ "$(cat kubelet.node 2>/dev/null)" == "$node" ]] || { rm -f kubelet.crt; echo "$node" > kubelet.node; }
client kubelet "/O=system:nodes/CN=system:node:$node"
# Add-ons running as host processes: each its own user, given its rights by RBAC (addons/rbac.yaml).
client traefik "/CN=racetrack:traefik"
client kube-router "/CN=racetrack:kube-router"
[[ -f sa.key ]] || { openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null; }
kubeconfig() {  # kubeconfig FILE USER
  cat > "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: racetrack
  cluster: {certificate-authority: $pki/ca.crt, server: "https://127.0.0.1:6443"}
users:
- name: $2
  user: {client-certificate: $pki/$2.crt, client-key: $pki/$2.key}
contexts:
- name: racetrack
  context: {cluster: racetrack, user: $2}
current-context: racetrack
KC
}
mkdir -p "$dir/etc"
kubeconfig "$dir/kubeconfig" admin
for c in controller-manager scheduler kubelet kube-proxy traefik kube-router; do
  kubeconfig "$dir/etc/$c.kubeconfig" $c
done
