# Shared settings and helpers for tests/stack/{up,down,status}. Sourced, not run.
# shellcheck shell=bash

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

MIM_CACHE=${MIM_CACHE:-$HOME/.cache/motion-in-motion}
MIM_STACK_DIR=${MIM_STACK_DIR:-/tmp/motion-in-motion-stack}
MIM_KAFKA_PORT=${MIM_KAFKA_PORT:-19092}
MIM_KAFKA_CONTROLLER_PORT=${MIM_KAFKA_CONTROLLER_PORT:-19093}
MIM_KAFKA_TOPIC=${MIM_KAFKA_TOPIC:-ksql_motion_events}
MIM_KAFKA_STATUS_TOPIC=${MIM_KAFKA_STATUS_TOPIC:-ksql_device_status}
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
