#!/usr/bin/env bash
# trainpod pod bootstrap. This file is a constant template: every value it uses is read as data
# from values.txt (KEY=VALUE lines) or config.json, both written by the SDK into the same bundle.
# It runs preflight, dependencies, dataset, model, training and upload; on every path it reports the
# final status and terminates its own pod, and it never simply exits (RunPod restarts a container
# whose main process ends, and the pod would keep billing).
#
# Two processes: the supervisor (the container's main process) starts the watchdog, the heartbeat
# and the worker (this file with --stages, in its own process group), then only waits. A signal
# therefore always finds the supervisor in `wait`, where its trap is safe (a trap that lands while
# bash parses a command substitution can fail with a syntax error), and whatever the worker does,
# the supervisor reports the final status and terminates the pod.
#
# In a job of several nodes (a RunPod Instant Cluster) every node runs this same bundle. Node rank
# 0, the primary, behaves as a single pod does. Any other node sends nothing to the app (the
# check-in and the batch numbers are one stream per attempt): it runs the same stages but the
# upload and keeps its own watchdog; when its training ends it logs the outcome, then waits to be
# deleted with the cluster after a success, or terminates its own pod after a failure. Its
# failure reaches the job through the primary, whose collectives then fail, and through the
# reconciler, which ends a cluster that lost a node.
set -Eeuo pipefail
shopt -s inherit_errexit
umask 077

BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOME_DIR=${TRAINPOD_HOME:-/workspace/trainpod}
STATE=$HOME_DIR/state
WORK=$HOME_DIR/work
OUTBOX=$STATE/outbox
LOG=$HOME_DIR/pod.log
mkdir -p "$STATE" "$WORK" "$OUTBOX"
export TRAINPOD_BUNDLE_DIR=$BUNDLE TRAINPOD_STATE_DIR=$STATE TRAINPOD_WORK_DIR=$WORK

# ---- values: read as data, never evaluated ----
declare -A V=()
while IFS= read -r line || [[ -n $line ]]; do
  [[ $line == *=* ]] && V[${line%%=*}]=${line#*=}
done <"$BUNDLE/values.txt"
val() { printf '%s' "${V[$1]:-}"; }

STAGE=init
STARTED=$(date +%s)
PYTHON=$(val python)
# What outlives the job: uv, the installers' caches, the Hub cache (on a network volume, for the
# next job there).
CACHE=$(val cache_dir)
CACHE=${CACHE:-$HOME_DIR/cache}
MODEL_CACHED=0
# RunPod sets NODE_RANK on each node of a cluster; a job of one pod is its own primary,
# whatever its env says.
NODE_RANK=${NODE_RANK:-0}
[[ $(val nodes) == 1 ]] && NODE_RANK=0

primary() { [[ $NODE_RANK == 0 ]]; }

log() { printf '%s trainpod: %s\n' "$(date -u +%FT%TZ)" "$*" | tee -a "$LOG" >&2; }

# ---- telemetry: numbered batches, spooled to the outbox first so nothing is lost ----
# The batch counter is shared with the Python reporter through flock on the same lock file.
next_batch() {
  local n
  {
    flock 9
    n=$(($(cat "$STATE/batch" 2>/dev/null || echo 0) + 1))
    echo "$n" >"$STATE/batch"
  } 9>"$STATE/batch.lock"
  echo "$n"
}

header_file() { # header_file NAME TOKEN: a curl header file, so no token is ever on a command line
  local f=$STATE/$1.hdr
  [[ -s $f ]] || printf 'Authorization: Bearer %s\n' "$2" >"$f"
  printf '%s' "$f"
}

# spool TYPE FIELDS: FIELDS is a JSON object body fragment made only of constants, integers and
# base64 text; ids in it are validated by the SDK to [A-Za-z0-9_-].
spool() {
  local n event body
  primary || return 0
  n=$(next_batch)
  event=$(printf '{"n":%s,"source":"bootstrap","type":"%s","stage":"%s","ts":%s,"data":{%s}}' \
    "$n" "$1" "$STAGE" "$(date +%s.%3N)" "$2")
  body=$(printf '{"job":"%s","attempt":%s,"batch":%s,"events":[%s]}' \
    "$(val job_id)" "$(val attempt)" "$n" "$event")
  printf '%s\n' "$body" >"$OUTBOX/$(printf '%012d' "$n").json.tmp"
  mv "$OUTBOX/$(printf '%012d' "$n").json.tmp" "$OUTBOX/$(printf '%012d' "$n").json"
  printf 'TRAINPOD_EVENT %s\n' "$event"
}

# post_file FILE MAX_TIME: one POST; 0 when the app took it (2xx) or refused it for good (4xx).
post_file() {
  local url code
  url=$(val metrics_url)
  [[ -n $url && ! -e $STATE/metrics.disabled ]] || return 0
  code=$(curl -sS -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time "$2" \
    -H @"$(header_file metrics "$(val metrics_token)")" -H 'Content-Type: application/json' \
    --data-binary @"$1" "$url" 2>/dev/null) || code=000
  case $code in
    2??) return 0 ;;
    401 | 403) : >"$STATE/metrics.disabled" && return 0 ;;
    400 | 404 | 409 | 413 | 422) return 0 ;;
    *) return 1 ;;
  esac
}

# flush BUDGET_S: send the outbox oldest first, retrying each batch until the budget is spent
# (0: one try each). Batches keep their numbers, so a resend is a replay the app accepts once.
flush() {
  local f end=$(($(date +%s) + $1))
  for f in "$OUTBOX"/*.json; do
    [[ -e $f ]] || continue
    until post_file "$f" 4; do
      (($(date +%s) < end)) || return 1
      sleep 1
    done
    rm -f "$f"
  done
}

event() { # event TYPE [FIELDS]: spool and try to send now, never failing the script
  spool "$1" "${2:-}" || true
  flush 0 || true
}

# A TERM from the supervisor only sets a flag: a heartbeat half spooled when the loop is killed outright
# would leave a gap in the batch numbers.
heartbeat_loop() {
  trap - EXIT ERR INT HUP
  local stop=0
  trap 'stop=1' TERM
  while ((stop == 0)); do
    sleep "$(val heartbeat_s)" &
    wait $! || kill $! 2>/dev/null || true
    ((stop == 0)) || break
    STAGE=$(cat "$STATE/stage" 2>/dev/null || echo init)
    spool heartbeat "\"uptime_s\":$(($(date +%s) - STARTED))" >/dev/null || true
    flush 10 >/dev/null 2>&1 || true
  done
}

# ---- termination: REST v2 with the pod-scoped key, then runpodctl; retried until it works ----
terminate_once() {
  local code
  if [[ -n ${RUNPOD_API_KEY:-} && -n ${RUNPOD_POD_ID:-} ]]; then
    code=$(curl -sS -o /dev/null -w '%{http_code}' --connect-timeout 3 --max-time 10 -X POST \
      -H @"$(header_file runpod "$RUNPOD_API_KEY")" -H 'Content-Type: application/json' \
      --data-binary '{"action":"terminate"}' "$(val api_base)/pods/$RUNPOD_POD_ID/action" \
      2>/dev/null) || code=000
    # 404: the pod is already gone, which is what terminating wants.
    [[ $code == 2?? || $code == 404 ]] && return 0
    log "terminate through the API answered $code"
  fi
  if command -v runpodctl >/dev/null 2>&1 && [[ -n ${RUNPOD_POD_ID:-} ]]; then
    runpodctl remove pod "$RUNPOD_POD_ID" >>"$LOG" 2>&1 && return 0
  fi
  return 1
}

terminate_forever() {
  local delay=1
  until terminate_once; do
    sleep "$delay"
    delay=$((delay < 60 ? delay * 2 : 60))
  done
  log "pod terminated"
  # Never exit: an exited container is restarted by RunPod. Wait to be stopped.
  while :; do sleep 3600; done
}

# The watchdog ends the pod at the hard deadline even if this script is stuck (in pip, say).
watchdog() {
  trap - EXIT ERR TERM INT HUP
  local left=$(($(val deadline_unix) - $(date +%s)))
  ((left > 0)) && sleep "$left"
  log "hard deadline reached: terminating the pod"
  echo deadline >"$STATE/watchdog.fired"
  terminate_forever
}

# hold_s: how long the final status may wait for the app. Once training has ended, the plan
# reserved upload_reserve_s + final_budget_s for the upload and this report: what the upload
# left of that window is spent holding the pod for an app that is down, never past the deadline.
hold_s() {
  local now until budget
  now=$(date +%s)
  budget=$(val final_budget_s)
  until=$(cat "$STATE/reserve_until" 2>/dev/null || echo 0)
  ((until - now > budget)) && budget=$((until - now))
  (($(val deadline_unix) - 3 - now < budget)) && budget=$(($(val deadline_unix) - 3 - now))
  ((budget > 0)) || budget=1
  echo "$budget"
}

# ---- the end, on every path (in the supervisor) ----
# finish RC [REASON]: REASON overrides the failed stage as the final status's reason.
finish() {
  local rc=$1
  set +e
  STAGE=$(cat "$STATE/stage" 2>/dev/null || echo init)
  CAUSE=$(cat "$STATE/cause" 2>/dev/null)
  local status=failed reason=${2:-$STAGE}
  if ((rc == 0)); then status=succeeded reason=; fi
  ((rc == 124)) && reason=deadline
  log "final: $status (stage $STAGE, exit code $rc) ${CAUSE}"
  printf '{"status":"%s","stage":"%s","exit_code":%s}\n' "$status" "$STAGE" "$rc" >"$STATE/final.json"
  if ! primary; then
    log "node $NODE_RANK of $(val nodes) reports nothing: the primary's final status carries the job"
    # A worker that trained waits to be deleted with the cluster, which trainpod does on the
    # primary's final status: a node gone while the primary still saves would read as a node
    # lost. Its own watchdog (the supervisor stopped the first) still ends it at the deadline.
    # One that failed removes its own pod, so that the cluster's missing node ends the job even
    # before the primary's collective fails.
    if ((rc == 0)); then
      log "node $NODE_RANK waits for the cluster to be deleted with the job"
      watchdog &
      while :; do sleep 3600; done
    fi
    terminate_forever
  fi
  spool final "\"status\":\"$status\",\"reason\":\"$reason\",\"exit_code\":$rc,\"cause_b64\":\"$(
    printf '%s' "$CAUSE" | base64 -w0
  )\",\"log_tail_b64\":\"$(tail -c 20000 "$LOG" 2>/dev/null | base64 -w0)\"" || true
  flush "$(hold_s)" || log "the app did not take the final status; it stays in the pod log"
  # With no app, the final status is a line of this pod's log, which the logs API drops with
  # the pod: stay up a moment, so a reader polling the log (follow, status) reads it before
  # the pod goes. The reader terminates the pod as soon as it has.
  [[ -n $(val metrics_url) ]] || sleep "$(val final_budget_s)"
  terminate_forever
}

# ---- check-in: an attempt runs in one container only ----
# RunPod restarts a container whose main process ended. The pod's state lives on its volume, so
# a restarted container finds the marker of a run that never finished and reports that instead
# of training again. Where the state did not survive, the app tells: the first container's
# check-in (batch 0, with a boot id made at each start) is accepted and its resends are
# replays; another boot's is refused with 409, and the app ends the job.
checkin() {
  local url code boot body end
  url=$(val metrics_url)
  [[ -n $url ]] && primary || return 0
  boot=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || echo "$(date +%s%N)-$$-$RANDOM")
  body=$STATE/checkin.json
  printf '{"job":"%s","attempt":%s,"batch":0,"events":[{"n":0,"source":"bootstrap","type":"checkin","stage":"init","ts":%s,"data":{"boot":"%s"}}]}\n' \
    "$(val job_id)" "$(val attempt)" "$(date +%s)" "$boot" >"$body"
  end=$(($(date +%s) + $(val checkin_budget_s)))
  while :; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --connect-timeout 3 --max-time 10 \
      -H @"$(header_file metrics "$(val metrics_token)")" -H 'Content-Type: application/json' \
      --data-binary @"$body" "$url" 2>/dev/null) || code=000
    case $code in
      2??) return 0 ;;
      409) return 2 ;;
      # The token is refused for good: nothing will be reported, as with any batch.
      401 | 403) : >"$STATE/metrics.disabled" && return 0 ;;
    esac
    (($(date +%s) < end)) || break
    sleep 2
  done
  log "the app did not answer the check-in (last answer $code); running on (the volume's marker guards restarts)"
  return 0
}

# group_busy PGID: whether a live (not zombie) process is left in the process group.
group_busy() {
  local f line fields
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    read -r -a fields <<<"${line##*) }"
    [[ ${fields[2]} == "$1" && ${fields[0]} != Z ]] && return 0
  done
  return 1
}

# stop_worker PID TERMED: end the worker's process group. After a signal the trainer gets TERM
# and up to 5 s to drain its reporter; after a normal end only strays are left, killed at once.
stop_worker() {
  local target=$1 _
  [[ -n ${WORKER_GROUP:-} ]] || { kill -KILL "$1" 2>/dev/null || true; return 0; }
  target=-$1
  if (($2)); then
    kill -TERM -- "$target" 2>/dev/null || return 0
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      group_busy "$1" || return 0
      sleep 0.5
    done
  fi
  kill -KILL -- "$target" 2>/dev/null || true
}

supervise() {
  if [[ -s $STATE/final.json ]]; then
    # A restarted container: the job already ended. Resend what is left, then terminate.
    log "restarted after the job ended: terminating"
    flush "$(hold_s)" || true
    terminate_forever
  fi
  if [[ -e $STATE/started ]]; then
    # A restarted container whose attempt ran in an earlier one that died mid-run.
    STAGE=$(cat "$STATE/stage" 2>/dev/null || echo init)
    printf 'RunPod restarted the container after its main process ended (during %s); an attempt never runs twice: retry the job' \
      "$STAGE" >"$STATE/cause"
    log "restarted during stage $STAGE: not running the attempt again"
    finish 70 container_restarted
  fi
  local verdict=0
  checkin || verdict=$?
  if ((verdict == 2)); then
    log "the app says this attempt already ran in an earlier container: terminating"
    terminate_forever
  fi
  date +%s >"$STATE/started"
  local termed=0 rc=0 worker
  trap 'termed=1' TERM INT HUP
  watchdog &
  local wd=$!
  local hb=
  if primary; then
    heartbeat_loop &
    hb=$!
  fi
  if command -v setsid >/dev/null 2>&1; then
    WORKER_GROUP=1
    setsid bash "$BUNDLE/bootstrap.sh" --stages &
  else
    bash "$BUNDLE/bootstrap.sh" --stages &
  fi
  worker=$!
  wait "$worker" || rc=$?
  trap - TERM INT HUP
  if ((termed)); then
    rc=143
    echo "the container was sent SIGTERM" >"$STATE/cause"
  fi
  stop_worker "$worker" "$termed"
  kill ${hb:+"$hb"} "$wd" 2>/dev/null || true
  finish "$rc"
}

fail() { # fail CAUSE [CODE]: end this stage with a cause the final status carries
  printf '%s' "$1" >"$STATE/cause"
  log "$STAGE failed: $1"
  exit "${2:-10}"
}

# stage NAME [FIELDS]: FIELDS, constants only, join the event's data.
stage() {
  enter "$1"
  announce "${2:-}"
}

# enter NAME: the stage a failure is charged to, before its event (announce) can say more.
enter() {
  STAGE=$1
  printf '%s' "$1" >"$STATE/stage"
  log "stage $1"
}

announce() { # announce [FIELDS]: the current stage's event
  event stage "\"elapsed_s\":$(($(date +%s) - STARTED))${1:+,$1}"
}

# run_child CMD...: a long step, its output in the log and on stdout.
run_child() {
  "$@" > >(tee -a "$LOG") 2>&1
}

# ---- stages ----
preflight() {
  stage preflight
  command -v curl >/dev/null || fail "curl is not installed in the image"
  { [[ -n $PYTHON ]] && command -v "$PYTHON" >/dev/null 2>&1; } ||
    fail "no Python interpreter '$PYTHON' in the image: use a runpod/pytorch image"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    fail "Python 3.11 or newer is needed; the image has $("$PYTHON" -V 2>&1)"
  # Found, not imported: importing torch takes seconds, and the trainer imports it anyway (it
  # checks the GPU then, and reports a missing one as a preflight failure).
  if [[ $(val needs_torch) == 1 ]]; then
    "$PYTHON" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)' ||
      fail "torch is not installed in the image: use a runpod/pytorch image"
  elif [[ $(val expect_gpu) == 1 ]]; then
    nvidia-smi -L >>"$LOG" 2>&1 || fail "no GPU is visible (nvidia-smi lists none)"
  fi
  local free_kb
  free_kb=$(df -Pk "$HOME_DIR" | awk 'NR==2 {print $4}')
  ((free_kb / 1048576 >= $(val min_free_disk_gb))) ||
    fail "only $((free_kb / 1048576)) GB free under $HOME_DIR; $(val min_free_disk_gb) GB needed"
  local ca found=
  for ca in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
    [[ -s $ca ]] && found=1
  done
  [[ -n $found ]] || fail "no CA certificates in the image: install ca-certificates"
  local now
  now=$(date +%s)
  ((now + 300 >= $(val issued_at))) || fail "the pod clock is behind the time the job was issued"
  ((now < $(val deadline_unix))) || fail "the job's deadline passed before the pod started"
}

# installer_flags: the index settings the bundle names, for uv and pip alike (both take them).
installer_flags() {
  INDEX=()
  [[ -n $(val index_url) ]] && INDEX+=(--index-url "$(val index_url)")
  [[ -n $(val find_links) ]] && INDEX+=(--find-links "$(val find_links)")
  return 0
}

# find_uv: sets UV to the command that runs uv, or says why there is none and returns 1. In
# order: the binary the bundle names, uv on PATH, the interpreter's own uv module, a uv an
# earlier job fetched into the cache, then the pinned uv fetched with pip into the cache (on a
# network volume it is there for the next job).
find_uv() {
  local given fetched=$CACHE/uv
  given=$(val uv)
  if [[ -n $given ]]; then
    [[ -x $given ]] && UV=("$given") && return 0
    log "the bundle names uv at $given, which is not an executable file here"
  fi
  command -v uv >/dev/null 2>&1 && UV=(uv) && return 0
  "$PYTHON" -m uv --version >/dev/null 2>&1 && UV=("$PYTHON" -m uv) && return 0
  if [[ ! -x $fetched/bin/uv ]]; then
    # Into a directory of this pod's own, then moved in whole: on a network volume another job
    # may be fetching it at the same time, and whichever lands first is used by both.
    rm -rf "$fetched.$$"
    PIP_CACHE_DIR=$CACHE/pip timeout -k 10 120 "$PYTHON" -m pip install --disable-pip-version-check \
      --no-input -q "${INDEX[@]}" --target "$fetched.$$" "uv==$(val uv_version)" >>"$LOG" 2>&1 ||
      { rm -rf "$fetched.$$"; WHY="uv $(val uv_version) could not be fetched with pip (see the log)"; return 1; }
    [[ -x $fetched/bin/uv ]] || { rm -rf "$fetched" && mv -T "$fetched.$$" "$fetched"; } || true
    rm -rf "$fetched.$$"
  fi
  [[ -x $fetched/bin/uv ]] && UV=("$fetched/bin/uv") && return 0
  WHY="the fetched uv package holds no uv binary for this platform"
  return 1
}

# seconds_since T0: seconds since T0 (date +%s.%N), to a tenth.
seconds_since() {
  awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

dependencies() {
  enter dependencies
  local req=$BUNDLE/requirements.txt t0
  t0=$(date +%s.%N)
  if [[ ! -s $req ]] || "$PYTHON" "$BUNDLE/deps.py" check "$req" >>"$LOG" 2>&1; then
    [[ -s $req ]] && log "dependencies already satisfied"
    announce '"installer":"none"'
    return 0
  fi
  # Pin whatever torch the image has, so that the installer fails loudly rather than replace it.
  "$PYTHON" "$BUNDLE/deps.py" constraints >"$WORK/constraints.txt" ||
    fail "could not read the image's installed packages"
  local UV=() WHY='' INDEX=() exe
  installer_flags
  if find_uv; then
    announce '"installer":"uv"'
    # uv takes a name such as python3 for a request of its own: give it the interpreter's path.
    exe=$("$PYTHON" -c 'import sys; print(sys.executable)') || fail "could not run $PYTHON"
    log "installing the requirements with ${UV[*]}"
    # --python installs into that interpreter's environment, a venv or the system's, as pip
    # run by it would. Copies, not links: the cache may be on another file system (a volume).
    UV_CACHE_DIR=$CACHE/uv-cache UV_LINK_MODE=copy UV_NO_PROGRESS=1 run_child \
      timeout -k 30 "$(val pip_timeout_s)" "${UV[@]}" pip install --python "$exe" \
      -c "$WORK/constraints.txt" "${INDEX[@]}" -r "$req" ||
      fail "uv could not install the pinned training stack (see the log tail)"
    log "dependencies installed with uv in $(seconds_since "$t0") s"
    return 0
  fi
  log "installing with pip: $WHY"
  announce '"installer":"pip"'
  PIP_CACHE_DIR=$CACHE/pip run_child timeout -k 30 "$(val pip_timeout_s)" \
    "$PYTHON" -m pip install --disable-pip-version-check --no-input -c "$WORK/constraints.txt" \
    "${INDEX[@]}" -r "$req" || fail "pip could not install the pinned training stack (see the log tail)"
  log "dependencies installed with pip in $(seconds_since "$t0") s"
}

# model: the Hub model's files into the Hub cache before training, so that training starts with
# the model on disk and a second job on the same volume downloads nothing. HF_HOME is the cache
# (on the job's network volume when it has one) unless the pod's env names its own; the trainer
# then loads from it offline. Skipped for a model in the pod (a path), a command job, and a pod
# told to stay offline (HF_HUB_OFFLINE), whose trainer reads the cache it was given.
model() {
  local id result key value line left rc=0
  id=$(val hub_model)
  [[ -n $id ]] || return 0
  [[ ${HF_HUB_OFFLINE:-0} =~ ^(0|false|no|off|)$ ]] || return 0
  export HF_HOME=${HF_HOME:-$CACHE/hf}
  stage model
  result=$WORK/model.result
  rm -f "$result"
  # As training is: stopped early enough to report before the watchdog's hard deadline.
  left=$(($(val deadline_unix) - $(date +%s) - $(val upload_reserve_s) - $(val final_budget_s) - 5))
  ((left > 0)) || fail "no time left for the model download before the deadline" 124
  run_child timeout -k 10 "$left" \
    "$PYTHON" "$BUNDLE/model.py" "$id" "$result" || rc=$?
  declare -A M=()
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line == *=* ]] && M[${line%%=*}]=${line#*=}
  done < <(cat "$result" 2>/dev/null)
  ((rc != 124)) || fail "the model download was still running when the deadline came near" 124
  ((rc == 0)) || fail "${M[cause]:-the model download failed with exit code $rc (see the log tail)}"
  for key in cache_hit downloaded_bytes files; do
    value=${M[$key]:-}
    [[ $value =~ ^[0-9]+$ ]] || fail "the model stage reported no $key"
  done
  MODEL_CACHED=1
  event model "\"cache_hit\":$([[ ${M[cache_hit]} == 1 ]] && echo true || echo false),\"downloaded_bytes\":${M[downloaded_bytes]},\"files\":${M[files]}"
}

# download PREFIX DEST: the dataset named by the values PREFIX_url, PREFIX_token and
# PREFIX_bytes (`dataset` or `eval_dataset`), resumable, up to 5 attempts. curl retries
# 408/429/5xx and refused connections itself; a cut transfer resumes from the bytes already in
# DEST.part (Range); any other 4xx is final. A presigned URL carries its own signature, so no
# Authorization header is sent with it.
download() {
  local p=$1 dest=$2
  local args=(-sS --fail -L --connect-timeout 10 --retry 5 --retry-connrefused --retry-delay 1
    --retry-max-time 600 -C - -o "$dest.part")
  [[ -n $(val "${p}_token") ]] && args+=(-H @"$(header_file "$p" "$(val "${p}_token")")")
  local attempt rc
  for attempt in 1 2 3 4 5; do
    rc=0
    # Complete already (an earlier attempt got every byte): a resume would get 416.
    if [[ -n $(val "${p}_bytes") && -f $dest.part ]] &&
      [[ $(stat -c %s "$dest.part") == "$(val "${p}_bytes")" ]]; then
      break
    fi
    curl "${args[@]}" "$(val "${p}_url")" 2>>"$LOG" || rc=$?
    ((rc == 0)) && break
    ((rc == 22)) && fail "the ${p//_/ } server refused the download (see the log tail for its status)"
    log "${p//_/ } download attempt $attempt failed (curl exit $rc); resuming"
    sleep "$attempt"
  done
  ((rc == 0)) || fail "the ${p//_/ } download failed (curl exit $rc; see the log tail)"
  mv "$dest.part" "$dest"
}

# fetch_dataset PREFIX DEST: puts the dataset PREFIX names at DEST (or finds it on the volume),
# checks its size and sha256, and sets FETCHED to its path.
fetch_dataset() {
  local p=$1 dest=$2 size sum what=${1//_/ }
  if [[ $(val "${p}_kind") == path ]]; then
    dest=$(val "${p}_path")
    [[ -f $dest ]] || fail "the $what is not at $dest on the volume"
  elif [[ ! -s $dest ]]; then
    download "$p" "$dest"
  fi
  size=$(stat -c %s "$dest")
  [[ -z $(val "${p}_bytes") || $size == "$(val "${p}_bytes")" ]] ||
    fail "the $what has $size bytes; $(val "${p}_bytes") were expected"
  if [[ -n $(val "${p}_sha256") ]]; then
    # From stdin: sha256sum escapes unusual file names, prefixing the digest with a backslash.
    sum=$(sha256sum <"$dest" | cut -d' ' -f1)
    [[ $sum == "$(val "${p}_sha256")" ]] ||
      { rm -f "$dest" && fail "the $what's sha256 is $sum; $(val "${p}_sha256") was expected"; }
  fi
  FETCHED=$dest
}

dataset() {
  stage dataset
  local FETCHED
  fetch_dataset dataset "$WORK/dataset.jsonl"
  export TRAINPOD_DATASET=$FETCHED
  if [[ -n $(val eval_dataset_kind) ]]; then
    fetch_dataset eval_dataset "$WORK/eval_dataset.jsonl"
    export TRAINPOD_EVAL_DATASET=$FETCHED
  fi
}

# resume: a later attempt puts the newest checkpoint its job kept in place for the trainer, whole
# and checked (checkpoint.py says which), so that steps already paid for are not run again.
resume() {
  [[ $(val resume) == 1 ]] || return 0
  stage resume
  run_child timeout -k 10 "$(val upload_reserve_s)" "$PYTHON" "$BUNDLE/checkpoint.py" fetch ||
    fail "$(cat "$STATE/cause" 2>/dev/null || echo "the checkpoint to resume from could not be fetched (see the log tail)")" 14
}

# trainer_command LEFT: sets TRAINER to the command that runs trainer.py on this node, and
# LAUNCHED to 1 when a launcher runs it. One process in all: the trainer itself. Otherwise
# `accelerate launch` (torchrun underneath, which accelerate runs for --multi_gpu; on a machine
# without CUDA it trains on CPU with gloo), one process per GPU here, every node meeting at the
# primary through static rendezvous (RunPod's clusters support no other). torchrun puts each
# process in a session of its own, out of reach of the signals that stop this group: each one
# dies with torchrun (trainer.py asks the kernel for that), and torchrun stops all of its
# processes as soon as one fails.
trainer_command() {
  local nodes per addr port
  nodes=$(val nodes) per=$(val gpus_per_node)
  LAUNCHED=0
  if ((nodes * per == 1)); then
    TRAINER=("$PYTHON" -u "$BUNDLE/trainer.py")
    return 0
  fi
  LAUNCHED=1
  if [[ ! $NODE_RANK =~ ^(0|[1-9][0-9]{0,3})$ ]] || ((NODE_RANK >= nodes)); then
    fail "this node's rank (NODE_RANK=$NODE_RANK) is not one of the job's $nodes nodes"
  fi
  if ((nodes > 1)); then
    [[ -n ${PRIMARY_ADDR:-} && ${PRIMARY_PORT:-} =~ ^[0-9]+$ ]] ||
      fail "a job of $nodes nodes needs RunPod's cluster env (PRIMARY_ADDR, PRIMARY_PORT): create it as an Instant Cluster"
    [[ -z ${NUM_NODES:-} || $NUM_NODES == "$nodes" ]] ||
      fail "the cluster has $NUM_NODES nodes; the job was planned for $nodes"
  fi
  # A single pod meets itself on loopback, at a port accelerate finds free (0).
  addr=${PRIMARY_ADDR:-127.0.0.1} port=${PRIMARY_PORT:-0}
  # RunPod's Instant Clusters route NCCL over ens1; NCCL's pick, eth0, times out (RunPod's
  # instant-clusters docs). A machine without a GPU trains with gloo, which this does not concern.
  if [[ -n ${NUM_NODES:-} && $(val expect_gpu) == 1 && -z ${NCCL_SOCKET_IFNAME:-} ]]; then
    export NCCL_SOCKET_IFNAME=ens1
  fi
  export PYTHONUNBUFFERED=1
  log "training with $((nodes * per)) processes, $per on this node (node $NODE_RANK of $nodes, primary $addr)"
  # The rendezvous waits for the slowest node's earlier stages (pip, the dataset) as long as
  # training could run; the watchdog and the reconciler end a node that never comes.
  TRAINER=("$PYTHON" -m accelerate.commands.launch --multi_gpu
    --num_processes $((nodes * per)) --num_machines "$nodes" --machine_rank "$NODE_RANK"
    --main_process_ip "$addr" --main_process_port "$port" --rdzv_backend static
    --rdzv_conf "timeout=$1" --max_restarts 0 --mixed_precision no --dynamo_backend no
    "$BUNDLE/trainer.py")
}

# launched_failure: the exit of several training processes. torchrun exits 1 whichever of them
# failed and however; what they left says how, so that the stage ends as one trainer's would.
launched_failure() {
  local ranks
  # The trainer's own preflight failed (it wrote the stage and the cause), as its exit code 12.
  [[ $(cat "$STATE/stage" 2>/dev/null) == preflight ]] && exit 12
  # Each process removes its marker however Python ends it; one left was killed outright.
  ranks=$(find "$STATE/ranks" -type f -printf '%f ' 2>/dev/null || true)
  [[ -z $ranks ]] ||
    fail "a training process (rank ${ranks% }) was killed (SIGKILL, as by the out-of-memory killer)" 137
}

train() {
  # The trainer loads (often downloads) the model first: the job trains from its first step.
  if [[ $(val mode) == command ]]; then stage training; else stage training '"awaits_first_step":true'; fi
  # Stop training early enough to upload and report before the watchdog's hard deadline.
  local left=$(($(val deadline_unix) - $(date +%s) - $(val upload_reserve_s) - $(val final_budget_s) - 5))
  ((left > 0)) || fail "no time left for training before the deadline" 124
  local rc=0 cause TRAINER LAUNCHED=0
  # The model stage put the model in the cache: the trainer reads it there, without asking the
  # Hub again for each file (and the upload after training is not held offline).
  ((MODEL_CACHED)) && local -x HF_HUB_OFFLINE=1
  # The trainer writes its exception here, and each process its marker; an older stage's
  # cause must not pass for it.
  rm -rf "$STATE/cause" "$STATE/ranks"
  # --foreground keeps the trainer in the worker's process group, which the supervisor stops.
  if [[ $(val mode) == command ]]; then
    run_child timeout --foreground -k 10 "$left" "$PYTHON" "$BUNDLE/command.py" || rc=$?
  else
    trainer_command "$left"
    run_child timeout --foreground -k 10 "$left" "${TRAINER[@]}" || rc=$?
  fi
  # From here the plan's reserve (upload, then the final report) is the pod's to spend.
  echo $(($(date +%s) + $(val upload_reserve_s) + $(val final_budget_s))) >"$STATE/reserve_until"
  ((rc == 0)) && return 0
  ((LAUNCHED && rc != 124)) && launched_failure
  case $rc in
    12) exit 12 ;; # the trainer's own preflight failed; it wrote the stage and the cause
    124) fail "the hard deadline was reached during training" 124 ;;
    137) fail "the trainer was killed (SIGKILL, as by the out-of-memory killer)" 137 ;;
    *)
      # The exception the trainer wrote (its type and message) says more than the exit code.
      # Bounded in bytes: the trainer's 500 characters, at up to 4 bytes each.
      cause="the trainer exited with code $rc (see the log tail)"
      if [[ -s $STATE/cause ]]; then
        cause="$(head -c 2000 "$STATE/cause") (the trainer exited with code $rc)"
      fi
      fail "$cause" "$rc"
      ;;
  esac
}

upload() {
  stage uploading
  [[ $(val artifacts_kind) == none ]] && return 0
  # Retries until the reserve is spent (an app that is down for minutes loses nothing), then
  # leaves the rest of the window to the final report.
  export TRAINPOD_UPLOAD_UNTIL=$(($(date +%s) + $(val upload_reserve_s) - 5))
  run_child timeout -k 10 "$(val upload_reserve_s)" "$PYTHON" "$BUNDLE/upload.py" ||
    fail "the artifact upload failed (see the log tail)"
}

stages() {
  preflight
  dependencies
  dataset
  model
  resume
  train
  # Only the primary uploads: the trained model is saved there.
  if primary; then upload; fi
}

if [[ ${1:-} == --stages ]]; then
  stages
else
  supervise
fi
