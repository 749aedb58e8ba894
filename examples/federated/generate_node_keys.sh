#!/usr/bin/env bash
# Creates one key pair per SuperNode for Flower's node authentication (ECDSA P-384 in OpenSSH
# format, the format `flwr supernode register` and `flower-supernode
# --auth-supernode-private-key` read), see README.md.
# Usage: ./generate_node_keys.sh [DIR] [NUM_NODES]   (default DIR: keys, NUM_NODES: 2)
# Writes DIR/supernode-<i> (private key, stays on node i) and DIR/supernode-<i>.pub.
set -euo pipefail
dir="${1:-keys}"
num_nodes="${2:-2}"
mkdir -p "$dir"
for i in $(seq 1 "$num_nodes"); do
    rm -f "$dir/supernode-$i" "$dir/supernode-$i.pub"
    ssh-keygen -q -t ecdsa -b 384 -N "" -C "supernode-$i" -f "$dir/supernode-$i"
done
echo "Wrote $num_nodes key pairs in $(cd "$dir" && pwd)"
