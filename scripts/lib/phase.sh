# Recipe phases under time guards, for scripts that must leave every phase's result behind even when
# one phase is slow (a GPU machine lent for one command of a few minutes).
#
#   phase [--after PATH]... [--clean PATH]... [--always] NAME SECONDS DONE COMMAND...
#
# runs COMMAND through `step` (scripts/lib/step.sh: logged to $RESULTS/commands.txt for the model
# card) under `timeout SECONDS`, its output in $RESULTS/logs/NAME.log, and appends NAME, wall seconds
# and a status (ok, skipped, timeout, failed (rc N), no output, no time) to $RESULTS/phases.tsv and
# PHASE_STATUS. It never stops the calling script: later phases run on whatever exists.
#   DONE     the phase's output; the phase is skipped when it exists and no --after PATH (a file, or
#            a folder searched recursively) holds anything newer, so a rerun redoes a phase whose
#            inputs changed (e.g. the export after training resumed) and nothing else.
#   --clean  removed before the phase runs: the partial output of an interrupted run.
#   --mark   DONE is a marker the phase itself touches when COMMAND succeeds (for a command whose
#            completion leaves no single output, such as a resumable training run).
#   --always not shortened by DEADLINE (cheap closing phases such as the model card).
# DEADLINE (epoch seconds, optional) caps every other phase's SECONDS at the time left; a phase with
# no time left is recorded as `no time` and not started.
# The command runs in its own process group (timeout's), so an interrupt of the calling script is
# forwarded to it (phase_interrupt) rather than leaving it running.

PHASE_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$PHASE_LIB/step.sh"
PHASE_PID= PHASE_STATUS=

# phase_fresh DONE [PATH...]: DONE exists and nothing under the PATHs is newer.
phase_fresh() {
  local done_path=$1; shift
  [ -n "$done_path" ] && [ -e "$done_path" ] || return 1
  local p
  for p in "$@"; do
    [ -e "$p" ] || continue
    [ -z "$(find "$p" -newer "$done_path" -print -quit)" ] || return 1
  done
}

phase_record() {  # NAME SECONDS STATUS (also left in PHASE_STATUS for the caller)
  PHASE_STATUS=$3
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$RESULTS/phases.tsv"
  echo "=== $1: $3 (${2} s)"
}

phase() {
  local after=() clean=() always=0 mark=0
  while [ $# -gt 0 ]; do
    case $1 in
      --after) after+=("$2"); shift 2 ;;
      --clean) clean+=("$2"); shift 2 ;;
      --always) always=1; shift ;;
      --mark) mark=1; shift ;;
      *) break ;;
    esac
  done
  local name=$1 budget=$2 done_path=$3; shift 3
  local log="$RESULTS/logs/$name.log"
  mkdir -p "$RESULTS/logs"
  if phase_fresh "$done_path" "${after[@]}"; then
    OUT=$RESULTS step "$done_path" "$@" >> "$log"
    phase_record "$name" 0 skipped
    return 0
  fi
  local secs=$budget
  if [ -n "${DEADLINE:-}" ] && [ "$always" = 0 ]; then
    local left=$((DEADLINE - $(date +%s)))
    [ "$left" -lt "$secs" ] && secs=$left
  fi
  if [ "$secs" -lt 1 ]; then
    { printf '%q ' "$@"; echo; } >> "$RESULTS/commands.txt"
    phase_record "$name" 0 "no time"
    return 0
  fi
  local p
  for p in "${clean[@]}"; do rm -rf -- "$p"; done
  echo "--- $(date -u +%FT%TZ) phase $name, at most $secs s" >> "$log"
  echo "=== $name (at most $secs s): $*"
  local t0 rc=0 status
  t0=$(date +%s)
  # step with no DONE path always runs: freshness was decided above.
  OUT=$RESULTS timeout --kill-after=20 "$secs" bash -c 'source "$1"; shift; step "" "$@"' _ \
    "$PHASE_LIB/step.sh" "$@" >> "$log" 2>&1 &
  PHASE_PID=$!
  wait "$PHASE_PID" || rc=$?
  PHASE_PID=
  [ "$rc" = 0 ] && [ "$mark" = 1 ] && touch "$done_path"
  case $rc in
    0) status=ok; [ -z "$done_path" ] || [ -e "$done_path" ] || status="no output" ;;
    124|137) status=timeout ;;
    *) status="failed (rc $rc)" ;;
  esac
  phase_record "$name" "$(($(date +%s) - t0))" "$status"
  [ "$status" = ok ] || tail -n 5 "$log" | sed 's/^/    | /'
  return 0
}

# phase_interrupt: for `trap phase_interrupt INT TERM`; stops the running phase's process group.
phase_interrupt() {
  [ -n "$PHASE_PID" ] && kill -TERM "$PHASE_PID" 2>/dev/null && wait "$PHASE_PID" 2>/dev/null
  echo "=== interrupted"
  exit 130
}

# phase_table: this run's phases as an aligned table.
phase_table() {
  [ -f "$RESULTS/phases.tsv" ] || return 0
  printf '%-18s %8s  %s\n' phase seconds status
  awk -F'\t' '{ printf "%-18s %8s  %s\n", $1, $2, $3; t += $2 } END { printf "%-18s %8s\n", "total", t }' \
    "$RESULTS/phases.tsv"
}
