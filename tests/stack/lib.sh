# Shared settings and helpers for tests/stack/{up,down,status}. Sourced, not run.
# shellcheck shell=bash

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

MIM_CACHE=${MIM_CACHE:-$HOME/.cache/motion-in-motion}
MIM_STACK_DIR=${MIM_STACK_DIR:-/tmp/motion-in-motion-stack}
MIM_KAFKA_PORT=${MIM_KAFKA_PORT:-19092}
MIM_KAFKA_CONTROLLER_PORT=${MIM_KAFKA_CONTROLLER_PORT:-19093}
MIM_KAFKA_TOPIC=${MIM_KAFKA_TOPIC:-ksql_motion_events}
MIM_KAFKA_STATUS_TOPIC=${MIM_KAFKA_STATUS_TOPIC:-ksql_device_status}
# The three-node cluster (`up --brokers 3`): node n's client port and controller port, apart
# from the single node's so that both can run at once.
MIM_KAFKA_NODE1_PORT=${MIM_KAFKA_NODE1_PORT:-19192}
MIM_KAFKA_NODE1_CONTROLLER_PORT=${MIM_KAFKA_NODE1_CONTROLLER_PORT:-19193}
MIM_KAFKA_NODE2_PORT=${MIM_KAFKA_NODE2_PORT:-19292}
MIM_KAFKA_NODE2_CONTROLLER_PORT=${MIM_KAFKA_NODE2_CONTROLLER_PORT:-19293}
MIM_KAFKA_NODE3_PORT=${MIM_KAFKA_NODE3_PORT:-19392}
MIM_KAFKA_NODE3_CONTROLLER_PORT=${MIM_KAFKA_NODE3_CONTROLLER_PORT:-19393}
MIM_S3_PORT=${MIM_S3_PORT:-19000}
MIM_S3_CONSOLE_PORT=${MIM_S3_CONSOLE_PORT:-19001}
MIM_S3_ACCESS_KEY=${MIM_S3_ACCESS_KEY:-mim-dev-access}
MIM_S3_SECRET_KEY=${MIM_S3_SECRET_KEY:-mim-dev-secret-key-0001}
MIM_S3_BUCKET=${MIM_S3_BUCKET:-motion-clips}
# The desktop app's key: it may read clips (and list the bucket), nothing else.
MIM_S3_READ_ACCESS_KEY=${MIM_S3_READ_ACCESS_KEY:-mim-dev-reader}
MIM_S3_READ_SECRET_KEY=${MIM_S3_READ_SECRET_KEY:-mim-dev-reader-secret-0001}
MIM_S3_REGION=${MIM_S3_REGION:-us-east-1}

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
KAFKA_LIBS=$MIM_CACHE/kafka-$KAFKA_VERSION/libs
# Pinned: the version this project was last verified with.
MINIO_VERSION=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
MINIO_BIN=$MIM_CACHE/bin/minio
# MinIO's client, for its admin API (users and policies), whose request bodies are encrypted
# with the root secret: no plain HTTP call can create the read-only user.
MC_VERSION=${MC_VERSION:-v0.0.0-20250313080218-cf909e1063a9}
MC_BIN=$MIM_CACHE/bin/mc

LOGS=$MIM_STACK_DIR/logs
PIDS=$MIM_STACK_DIR/pids
DATA=$MIM_STACK_DIR/data
mkdir -p "$LOGS" "$PIDS" "$DATA"

say() { echo "stack: $*"; }
die() { echo "stack: error: $*" >&2; exit 1; }

pid_state() { # pid: its state letter from /proc (R, S, D, T when stopped, Z...); fails if gone
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  echo "${stat%% *}"
}

pid_alive() { # service: its process runs (a zombie, killed but not reaped yet, does not)
  local f=$PIDS/$1.pid state
  [[ -f $f ]] && state=$(pid_state "$(cat "$f")") && [[ $state != Z ]]
}

pid_stopped() { # service: its process is alive but stopped (SIGSTOP)
  local state
  pid_alive "$1" && state=$(pid_state "$(cat "$PIDS/$1.pid")") && [[ $state == T ]]
}

port_open() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_until() { # seconds service command...
  local deadline=$((SECONDS + $1)) service=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)) || ! pid_alive "$service"; then
      echo "stack: error: $service did not become ready; last lines of $LOGS/$service.log:" >&2
      tail -n 30 "$LOGS/$service.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

kafka_java() { # main-class args...
  java -Xms64m -Xmx256m -Dlog4j.configuration="file:$here/kafka/tools-log4j.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

kafka_healthy() {
  port_open "$MIM_KAFKA_PORT" &&
    kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$MIM_KAFKA_PORT" --list
}

s3_healthy() {
  curl -fsS -o /dev/null "http://127.0.0.1:$MIM_S3_PORT/minio/health/ready"
}

mc_admin() { # mc args... (as the root user, against the stack's MinIO)
  MC_CONFIG_DIR=$MIM_STACK_DIR/mc \
    MC_HOST_stack="http://$MIM_S3_ACCESS_KEY:$MIM_S3_SECRET_KEY@127.0.0.1:$MIM_S3_PORT" \
    "$MC_BIN" --quiet --no-color "$@"
}

s3_curl() { # curl args... (signed with the stack's credentials)
  # curl 7.88 signs bodies wrongly for S3; UNSIGNED-PAYLOAD is a valid SigV4 mode over which
  # the headers, path and query are still signed.
  curl -fsS --aws-sigv4 "aws:amz:$MIM_S3_REGION:s3" --user "$MIM_S3_ACCESS_KEY:$MIM_S3_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# ---------------------------------------------------------------------------------------------
# The three-node Kafka cluster (`up --brokers 3`). Each node is broker and controller at once
# ("combined" mode) and the three form the KRaft controller quorum (3 voters: one may fail).
# Kafka recommends dedicated controller nodes in production; combined mode is supported for
# small clusters such as this test one. Node n is the service kafka-n: its config
# $MIM_STACK_DIR/kafka-n.properties, data $DATA/kafka-n, log $LOGS/kafka-n.log, pid
# $PIDS/kafka-n.pid. Its id in Kafka is n.

KAFKA_NODES=(1 2 3)
# The number of brokers `up` last started Kafka with (1 or 3): what stack.env points at.
KAFKA_BROKERS_FILE=$MIM_STACK_DIR/kafka.brokers
# Kafka's tools against the cluster give up on a node that does not answer (one stopped with
# SIGSTOP accepts connections, then says nothing) after 5 s rather than 30, and try another.
KAFKA_ADMIN_CONFIG=$here/kafka/admin-client.properties

kafka_brokers_checked() { # count: prints it if it is a broker count the stack supports
  case $1 in
    1 | 3) echo "$1" ;;
    *) die "--brokers / MIM_KAFKA_BROKERS must be 1 or 3, not '$1'" ;;
  esac
}

kafka_brokers_recorded() { # the broker count stack.env points at (1 when unknown)
  local n
  n=$(cat "$KAFKA_BROKERS_FILE" 2>/dev/null || true)
  [[ $n == 3 ]] && echo 3 || echo 1
}

kafka_node_checked() { # n: dies unless n names a cluster node
  [[ " ${KAFKA_NODES[*]} " == *" $1 "* ]] || die "no node '$1' (the cluster's nodes are ${KAFKA_NODES[*]})"
}

kafka_node_port() { # n
  local v=MIM_KAFKA_NODE${1}_PORT
  echo "${!v}"
}

kafka_node_controller_port() { # n
  local v=MIM_KAFKA_NODE${1}_CONTROLLER_PORT
  echo "${!v}"
}

kafka_ports_distinct() { # dies when two of the stack's ports are the same number
  local ports=("$MIM_KAFKA_PORT" "$MIM_KAFKA_CONTROLLER_PORT" "$MIM_S3_PORT" "$MIM_S3_CONSOLE_PORT") n twice
  for n in "${KAFKA_NODES[@]}"; do
    ports+=("$(kafka_node_port "$n")" "$(kafka_node_controller_port "$n")")
  done
  twice=$(printf '%s\n' "${ports[@]}" | sort | uniq -d | paste -sd, -)
  [[ -z $twice ]] || die "port $twice is given to two services (see the MIM_*_PORT variables)"
}

kafka_cluster_bootstrap() { # the cluster's bootstrap list: every node, comma-separated
  local n list=()
  for n in "${KAFKA_NODES[@]}"; do list+=("127.0.0.1:$(kafka_node_port "$n")"); done
  (IFS=,; echo "${list[*]}")
}

kafka_cluster_bootstrap_running() { # the nodes that run and are not stopped (all if none is)
  local n list=()
  for n in "${KAFKA_NODES[@]}"; do
    if pid_alive "kafka-$n" && ! pid_stopped "kafka-$n"; then
      list+=("127.0.0.1:$(kafka_node_port "$n")")
    fi
  done
  if ((${#list[@]})); then (IFS=,; echo "${list[*]}"); else kafka_cluster_bootstrap; fi
}

kafka_cluster_id() { # the cluster's id, made once and kept in $DATA/kafka-cluster.id
  local f=$DATA/kafka-cluster.id known
  if [[ ! -s $f ]]; then
    # A node formatted earlier keeps its id: the file is only remade from it.
    known=$(sed -n 's/^cluster\.id=//p' "$DATA"/kafka-[0-9]*/meta.properties 2>/dev/null | head -n 1 || true)
    if [[ -n $known ]]; then
      echo "$known" >"$f"
    else
      kafka_java kafka.tools.StorageTool random-uuid >"$f"
    fi
  fi
  cat "$f"
}

kafka_node_conf() { # n: writes node n's config; formats its data folder the first time
  local n=$1 conf=$MIM_STACK_DIR/kafka-$1.properties logdir=$DATA/kafka-$1 m voters=()
  for m in "${KAFKA_NODES[@]}"; do voters+=("$m@127.0.0.1:$(kafka_node_controller_port "$m")"); done
  cat >"$conf" <<PROPS
# Node $n of the stack's three-node test cluster (tests/stack/up --brokers 3): broker and
# controller in one process, one of the quorum's three voters.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(IFS=,; echo "${voters[*]}")
listeners=PLAINTEXT://127.0.0.1:$(kafka_node_port "$n"),CONTROLLER://127.0.0.1:$(kafka_node_controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(kafka_node_port "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$logdir
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
unclean.leader.election.enable=false
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
PROPS
  if [[ ! -f $logdir/meta.properties ]]; then
    kafka_java kafka.tools.StorageTool format --ignore-formatted \
      --cluster-id "$(kafka_cluster_id)" --config "$conf" >/dev/null
  fi
}

kafka_node_start() { # n: starts node n in the background with its config and data
  local n=$1
  kafka_node_conf "$n"
  echo "=== $(date -u +%FT%TZ) tests/stack: starting node $n" >>"$LOGS/kafka-$n.log"
  setsid nohup java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$here/kafka/server-log4j.properties" \
    -Dkafka.logs.dir="$LOGS" -cp "$KAFKA_LIBS/*" kafka.Kafka "$MIM_STACK_DIR/kafka-$n.properties" \
    >>"$LOGS/kafka-$n.log" 2>&1 </dev/null &
  echo $! >"$PIDS/kafka-$n.pid"
}

kafka_node_serving() { # n: node n runs, is not stopped, and answers on its own port
  local port
  port=$(kafka_node_port "$1")
  pid_alive "kafka-$1" && ! pid_stopped "kafka-$1" && port_open "$port" &&
    kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" \
      --command-config "$KAFKA_ADMIN_CONFIG" --list
}

kafka_cluster_live() { # the ids of the brokers the cluster counts live (registered, unfenced)
  kafka_java kafka.admin.BrokerApiVersionsCommand --bootstrap-server "$(kafka_cluster_bootstrap_running)" \
    --command-config "$KAFKA_ADMIN_CONFIG" 2>/dev/null |
    sed -n 's/^[^ ]* (id: \([0-9]*\) rack: .*/\1/p' | sort -n | paste -sd' ' -
}

kafka_cluster_healthy() { # every node runs, is not stopped, listens, and is a live broker
  local n
  for n in "${KAFKA_NODES[@]}"; do
    pid_alive "kafka-$n" && ! pid_stopped "kafka-$n" && port_open "$(kafka_node_port "$n")" || return 1
  done
  [[ $(kafka_cluster_live) == "${KAFKA_NODES[*]}" ]]
}

kafka_partitions() { # topic: one line per partition: "partition leader isr" (isr comma-separated)
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$(kafka_cluster_bootstrap_running)" \
    --command-config "$KAFKA_ADMIN_CONFIG" --describe --topic "$1" |
    awk -F'\t' '/Partition: / {
      p = l = i = ""
      for (f = 1; f <= NF; f++) {
        split($f, kv, ": ")
        if (kv[1] == "Partition") p = kv[2]; else if (kv[1] == "Leader") l = kv[2]; else if (kv[1] == "Isr") i = kv[2]
      }
      print p, l, i
    }'
}

# The status topic keeps each camera's newest heartbeats (keyed by device_id), a day at most:
# compacted, its bytes stay per camera instead of growing with every heartbeat (docs/SCALING.md §7).
STATUS_TOPIC_CONFIG=(--config cleanup.policy=compact,delete --config retention.ms=86400000 --config segment.ms=3600000)

kafka_create_topics() { # bootstrap replication-factor [--config k=v]...: the stack's two topics
  local bootstrap=$1 rf=$2
  shift 2
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
    --create --if-not-exists --topic "$MIM_KAFKA_TOPIC" --partitions 3 \
    --replication-factor "$rf" "$@" >/dev/null
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
    --create --if-not-exists --topic "$MIM_KAFKA_STATUS_TOPIC" --partitions 1 \
    --replication-factor "$rf" "${STATUS_TOPIC_CONFIG[@]}" "$@" >/dev/null
}

stop_services() { # service...: SIGTERM to each (continued first if stopped), SIGKILL after 30 s
  local s pid pids=() deadline
  for s in "$@"; do
    pid_alive "$s" || continue
    pid=$(cat "$PIDS/$s.pid")
    say "stopping $s (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true
    pids+=("$s:$pid")
  done
  deadline=$((SECONDS + 30))
  for s in "${pids[@]}"; do
    while pid_alive "${s%%:*}" && ((SECONDS < deadline)); do sleep 0.5; done
    if pid_alive "${s%%:*}"; then
      say "${s%%:*} did not stop within 30 s: SIGKILL"
      kill -KILL "${s##*:}" 2>/dev/null || true
    fi
  done
}

kafka_node_pid() { # n: node n's pid, if it runs and is this stack's node n (else fails)
  local pid
  pid_alive "kafka-$1" || return 1
  pid=$(cat "$PIDS/kafka-$1.pid")
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$MIM_STACK_DIR/kafka-$1.properties" || return 1
  echo "$pid"
}
