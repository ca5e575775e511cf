# bash completion for connectstatus. The words come from the command itself
# (`connectstatus __complete ...`), so they follow the installed version; connector names are
# read live from the API when a context or the environment says which one.
_connectstatus() {
  local cur prev cmd i
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      -o|--output|--context|--state|--ignore-state|--phase|--timeout|--interval|--expand|--base-url|--environment|\
      --cluster|--api-key|--api-secret|--token|--feldera-host|--feldera-api-key|--tenant|--proxy|--cacert|--only|\
      --exclude|--min-connectors|--watch|--heartbeat|--failed-grace|--since|--port|--scenario|--connect-url|\
      --connect-user) ((i++)) ;;
      -*) ;;
      *) cmd="${COMP_WORDS[i]}"; break ;;
    esac
  done
  local words
  case "$prev" in
    -o|--output) words="table json jsonl prometheus" ;;
    --context) words="$(connectstatus __complete contexts 2>/dev/null)" ;;
    --state|--ignore-state) words="$(connectstatus __complete states 2>/dev/null)" ;;
    --phase) words="$(connectstatus __complete phases 2>/dev/null)" ;;
    --scenario) words="demo empty" ;;
    --expand) words="id info status" ;;
    --cacert) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --timeout|--interval|--base-url|--environment|--cluster|--api-key|--api-secret|--token|--feldera-host|\
    --feldera-api-key|--tenant|--proxy|--only|--exclude|--min-connectors|--watch|--heartbeat|--failed-grace|\
    --since|--port|--connect-url|--connect-user) return ;;
    *)
      if [[ "$cur" == -* ]]; then
        words="$(connectstatus __complete flags "$cmd" 2>/dev/null)"
      elif [[ -z "$cmd" ]]; then
        words="$(connectstatus __complete commands 2>/dev/null)"
      else
        case "$cmd" in
          status|tasks|check|wait|wait-offsets|offsets-status|offsets|pause|resume|restart|stop|reset-offsets)
            words="$(connectstatus __complete connectors 2>/dev/null)" ;;
          alter-offsets)
            # NAME, then the offsets file
            if [[ "$prev" == alter-offsets ]]; then words="$(connectstatus __complete connectors 2>/dev/null)"
            else COMPREPLY=($(compgen -f -- "$cur")); return; fi ;;
          context) words="list use show $(connectstatus __complete contexts 2>/dev/null)" ;;
          help) words="$(connectstatus __complete commands 2>/dev/null)" ;;
        esac
      fi
      ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _connectstatus connectstatus
