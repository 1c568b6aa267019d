# Source this file (`source scripts/env.sh`) to put the tools scripts/setup.sh installed under
# .tools/ (Node 24, helm, kubeconform, hadolint) first on PATH in the current shell, for running
# npm and node directly; scripts/run does the same for one command.
_ep_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
case ":$PATH:" in
  *":$_ep_root/.tools/bin:"*) ;;
  *) export PATH="$_ep_root/.tools/bin:$PATH" ;;
esac
unset _ep_root
