// `certkeeper completion bash|zsh`: a completion script for the commands and
// their flags (source it: `source <(certkeeper completion bash)`). Resource
// names are completed by asking kubectl, as cmctl does.

const WORDS: Record<string, string[]> = {
  '': ['controller', 'account', 'status', 'renew', 'inspect', 'convert', 'migrate', 'completion', 'version', '--help'],
  renew: ['--all', '--namespace', '--all-namespaces', '--selector', '--kubeconfig', '--help'],
  account: ['import', 'export', 'register', '--help'],
  status: ['certificate', 'issuer', 'clusterissuer', '--namespace', '--ledger-namespace', '--kubeconfig', '--help'],
  inspect: ['secret', '--namespace', '--kubeconfig', '--help'],
  completion: ['bash', 'zsh'],
};

/** Which kubectl resource to list for the name after `status <kind>` / `inspect secret`. */
const NAMES: Record<string, string> = {
  certificate: 'certificates.certkeeper.io',
  issuer: 'issuers.certkeeper.io',
  clusterissuer: 'clusterissuers.certkeeper.io',
  secret: 'secrets',
};

export function bashCompletion(): string {
  const cases = Object.entries(WORDS).filter(([k]) => k).map(([k, words]) => `    ${k}) words="${words.join(' ')}" ;;`).join('\n');
  const names = Object.entries(NAMES).map(([k, resource]) => `    ${k}) COMPREPLY=( $(compgen -W "$(kubectl get ${resource} \${ns:+-n "$ns"} -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ); return ;;`).join('\n');
  return `# bash completion for certkeeper
_certkeeper() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="\${COMP_WORDS[1]}" ns="" i words
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -n|--namespace) ns="\${COMP_WORDS[i+1]}" ;; esac
  done
  case "$prev" in
${names}
  esac
  if [ "$COMP_CWORD" -eq 1 ]; then words="${WORDS['']!.join(' ')}"; else
  case "$cmd" in
${cases}
    *) words="" ;;
  esac
  fi
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _certkeeper certkeeper
`;
}

export function zshCompletion(): string {
  return `#compdef certkeeper
# zsh completion for certkeeper: uses the bash completion through bashcompinit.
autoload -U +X bashcompinit && bashcompinit
${bashCompletion()}`;
}

export function runCompletion(args: string[], io: { stdout: (t: string) => void; stderr: (t: string) => void }): number {
  const [shell] = args;
  if (shell === 'bash') io.stdout(bashCompletion());
  else if (shell === 'zsh') io.stdout(zshCompletion());
  else {
    io.stderr('Usage: certkeeper completion bash|zsh   (e.g. source <(certkeeper completion bash))\n');
    return 2;
  }
  return 0;
}
