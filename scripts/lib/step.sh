# Shared by the recipe scripts: `step DONE_PATH COMMAND...` logs COMMAND to $OUT/commands.txt (for
# the model card) and runs it unless DONE_PATH exists, so a rerun continues where one stopped.
step() {
  local done_path=$1; shift
  { printf '%q ' "$@"; echo; } >> "$OUT/commands.txt"  # quoted: a model card's commands run as written
  if [ -e "$done_path" ]; then echo ">>> skip (exists: $done_path): $*"; return 0; fi
  echo ">>> $*"
  "$@"
}
