# bash completion for cnet (zsh: autoload -U bashcompinit && bashcompinit, then source this file).
# Install: copy to /usr/share/bash-completion/completions/cnet, or source it from ~/.bashrc.
# Commands and flags are read from `cnet --help` and `cnet CMD --help`, so they follow the program.
_cnet() {
  local cur=${COMP_WORDS[COMP_CWORD]} prog=${COMP_WORDS[0]}
  if [[ $COMP_CWORD -eq 1 ]]; then
    local cmds
    cmds=$("$prog" --help 2>/dev/null | awk '/^SUBCOMMANDS:|^Subcommands:/ {on = 1; next} on && NF {print $1}')
    COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
    return
  fi
  if [[ $cur == -* ]]; then
    local flags
    flags=$("$prog" "${COMP_WORDS[@]:1:COMP_CWORD-1}" --help 2>/dev/null | grep -oE -- '(^|[ ,])--?[A-Za-z][-A-Za-z0-9]*' | tr -d ' ,' | sort -u)
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  local sub
  sub=$("$prog" "${COMP_WORDS[@]:1:COMP_CWORD-1}" --help 2>/dev/null | awk '/^SUBCOMMANDS:|^Subcommands:/ {on = 1; next} on && NF {print $1}')
  if [[ -n $sub ]]; then COMPREPLY=($(compgen -W "$sub" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -F _cnet cnet
