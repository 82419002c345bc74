#!/usr/bin/env bash
# A cluster across hosts: every member (4 validators, the store, the operator, an inference node)
# in its own network namespace with its own address on a bridge, its own data directory, and its
# key made there by `bftgate init`. Only cards, the assembled config and its fingerprint cross
# between "hosts". Every link is CurveZMQ under the members' keys. The cluster certifies an
# adapter and the node serves it; a process on another host that holds no key of the config is
# refused during the handshake, before any decoder sees a frame of it (the validators' refusal
# counters show it); then one validator's host is cut off with nftables and the next adapter is
# still certified and served.
#
# The steps are those of the README's "Deploy on several hosts", with a namespace for a machine.
# Usage: tests/deploy/multi_host.sh BFTGATE_BINARY. Exit 77 (skip, with the reason) without root,
# ip or nft, or where namespaces cannot be made.
set -euo pipefail
bftgate=$(realpath "$1")
skip() { echo "skipped: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "no ip (apt install iproute2)"
command -v nft >/dev/null || skip "no nft (apt install nftables)"

tag=bg$$                    # namespaces and links of this run
work=$(mktemp -d)
hosts=(v0 v1 v2 v3 st op n0 xx)  # xx: a stranger's host, not in the cluster
declare -A addr=([v0]=10.77.0.1 [v1]=10.77.0.2 [v2]=10.77.0.3 [v3]=10.77.0.4 [st]=10.77.0.9
                 [op]=10.77.0.20 [n0]=10.77.0.30 [xx]=10.77.0.66)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for h in "${hosts[@]}" switch; do ip netns del "$tag-$h" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
on() { local h=$1; shift; ip netns exec "$tag-$h" "$@"; }

# The network: a bridge in a namespace of its own (the switch), one veth pair per host.
ip netns add "$tag-switch" 2>/dev/null || skip "cannot create network namespaces here"
on switch ip link add br0 type bridge
on switch ip link set br0 up
for h in "${hosts[@]}"; do
  ip netns add "$tag-$h"
  ip link add "$tag-$h" type veth peer name "p-$tag-$h"
  ip link set "$tag-$h" netns "$tag-$h"
  ip link set "p-$tag-$h" netns "$tag-switch"
  on switch ip link set "p-$tag-$h" master br0 up
  on "$h" ip link set lo up
  on "$h" ip addr add "${addr[$h]}/24" dev "$tag-$h"
  on "$h" ip link set "$tag-$h" up
done

# 1. On each host: its key and card.
for i in 0 1 2 3; do
  on "v$i" "$bftgate" init validator --id "$i" --endpoint "tcp://${addr[v$i]}:27000" \
    --out "$work/v$i" >/dev/null
done
on st "$bftgate" init store --endpoint "tcp://${addr[st]}:27000" --out "$work/st" >/dev/null
on op "$bftgate" init operator --out "$work/op" >/dev/null
on n0 "$bftgate" init node --id 0 --endpoint "tcp://${addr[n0]}:27001" --out "$work/n0" >/dev/null
on xx "$bftgate" init operator --out "$work/xx" >/dev/null  # a key the cluster never hears of
for h in "${hosts[@]}"; do
  [ "$(stat -c %a "$work/$h"/*.key)" = 600 ] || { echo "$h: key not 0600"; exit 1; }
done

# 2. Cards (public) go to whoever assembles; the config and its fingerprint come back.
mkdir "$work/assembly"
for h in v0 v1 v2 v3 st op n0; do cp "$work/$h"/*.card.json "$work/assembly/"; done
cards=()
for card in "$work"/assembly/*.card.json; do cards+=(--card "$card"); done
"$bftgate" cluster assemble --cluster-id multi-host "${cards[@]}" --out "$work/assembly/cluster.json" \
  >"$work/assembly/assemble.txt"
fingerprint=$("$bftgate" cluster fingerprint --config "$work/assembly/cluster.json")
for h in "${hosts[@]}"; do
  cp "$work/assembly/cluster.json" "$work/$h/cluster.json"
  # Each host compares the fingerprint out of band before trusting the config.
  [ "$(on "$h" "$bftgate" cluster fingerprint --config "$work/$h/cluster.json")" = "$fingerprint" ] \
    || { echo "$h: fingerprint differs"; exit 1; }
done

# 3. Each host starts its member with its own key and data directory.
mkdir -p "$work/st/objects" "$work/n0/cache" "$work"/v{0,1,2,3}/data
pass="echo '{\"pass\": true, \"metrics\": {\"suite\": \"multi-host\"}}'"
on st "$bftgate" store --dir "$work/st/objects" --config "$work/st/cluster.json" \
  --key "$work/st/store.key" >"$work/st/log" 2>&1 &
pids+=($!)
for i in 0 1 2 3; do
  on "v$i" "$bftgate" validator --config "$work/v$i/cluster.json" --id "$i" \
    --key "$work/v$i/validator-$i.key" --data "$work/v$i/data" --validate-cmd "$pass" \
    >"$work/v$i/log" 2>&1 &
  pids+=($!)
done
on n0 "$bftgate" node --config "$work/n0/cluster.json" --id 0 --cache "$work/n0/cache" \
  --key "$work/n0/node-0.key" --backend opaque --poll-interval 0.3 >"$work/n0/log" 2>&1 &
pids+=($!)
# Whether HOST reaches ADDRESS:PORT over TCP.
reaches() { on "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }
for _ in $(seq 1 50); do reaches v0 "${addr[v3]}" 27000 && break; sleep 0.2; done
reaches v0 "${addr[v3]}" 27000 || { echo "validator 0's host cannot reach validator 3's"; exit 1; }
# It logs the fingerprint once listening; a peer's port answering says nothing of when.
for _ in $(seq 1 100); do grep -q "$fingerprint" "$work/v0/log" && break; sleep 0.1; done
grep -q "$fingerprint" "$work/v0/log" \
  || { echo "validator 0 did not log the config's fingerprint"; cat "$work/v0/log"; exit 1; }

# The node's /status, asked on its host (it serves 127.0.0.1 there).
served_version() {
  on n0 python3 -c 'import json, sys, urllib.request
try:
    print(json.load(urllib.request.urlopen("http://127.0.0.1:27001/status", timeout=2)).get("version", 0))
except Exception:
    print(0)'
}
submit_and_serve() {  # ARTIFACT VERSION
  head -c 4096 /dev/urandom >"$work/op/$1"
  if ! on op "$bftgate" submit --wait --timeout 60 --config "$work/op/cluster.json" \
      --operator-key "$work/op/operator.key" --adapter "$work/op/$1" >"$work/op/$1.out" 2>&1; then
    echo "submit of $1 failed:"; cat "$work/op/$1.out"; tail -n 20 "$work"/v*/log; exit 1
  fi
  for _ in $(seq 1 100); do
    [ "$(served_version)" = "$2" ] && return 0
    sleep 0.3
  done
  echo "the node did not serve version $2"; tail -n 20 "$work/n0/log"; exit 1
}

# 4. The first adapter: certified across hosts, served by the node.
submit_and_serve first.bin 1
echo "certified and served version 1 across 7 namespaces"

# 5. A stranger: a key outside the config. Its own copy of the config names its key as the
# operator's (so that its client will use it); the validators' config does not. It gets no
# answer, and the validators count an unknown key and decode nothing of it.
refusals() {  # the validators' refusal counters, as the operator's status reports them
  on op "$bftgate" status --json --config "$work/op/cluster.json" --key "$work/op/operator.key" \
    | python3 -c 'import json, sys
answers = json.load(sys.stdin)["validators"]
print(json.dumps({v: a.get("refused_inputs", {}) for v, a in sorted(answers.items())}))'
}
before=$(refusals)
python3 - "$work/op/cluster.json" "$work/xx/operator.card.json" "$work/xx/cluster.json" <<'EOF'
import json, sys
config = json.load(open(sys.argv[1]))
config["operator"]["public_key"] = json.load(open(sys.argv[2]))["public_key"]
json.dump(config, open(sys.argv[3], "w"))
EOF
if on xx "$bftgate" status --config "$work/xx/cluster.json" --key "$work/xx/operator.key" \
    --timeout 2 >"$work/xx/status.out" 2>&1; then
  echo "a stranger got answers:"; cat "$work/xx/status.out"; exit 1
fi
grep -q "0 of 4 validators answered" "$work/xx/status.out" \
  || { echo "the stranger's status:"; cat "$work/xx/status.out"; exit 1; }
after=$(refusals)
python3 - "$before" "$after" <<'EOF'
import json, sys
before, after = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for v in sorted(after):
    grew = {k: n - before.get(v, {}).get(k, 0) for k, n in after[v].items()
            if n != before.get(v, {}).get(k, 0)}
    if grew.get("unknown-key", 0) < 1:
        sys.exit(f"validator {v} did not count the stranger's key: {grew}")
    if set(grew) != {"unknown-key"}:
        sys.exit(f"validator {v} counted more than the unknown key (a frame was read?): {grew}")
print("a stranger's key was refused by every validator during the handshake, no frame decoded")
EOF

# 6. Validator 3's host is cut off (everything but its loopback dropped, both ways), and the
# next adapter is still certified by the other three and served.
on v3 nft -f - <<'EOF'
table inet isolate {
  chain input { type filter hook input priority 0; policy drop; iif "lo" accept; }
  chain output { type filter hook output priority 0; policy drop; oif "lo" accept; }
}
EOF
reaches v0 "${addr[v3]}" 27000 && { echo "validator 3 is not cut off"; exit 1; }
submit_and_serve second.bin 2
echo "with validator 3's host cut off, certified and served version 2"
