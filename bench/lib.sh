# Shell helpers shared by the benchmark scripts (sourced, not run).

# api METHOD PATH TOKEN [BODY] -> the response body on stdout; fails on a non-2xx answer.
# Talks to $SERVER_URL (a running `cnet serve`).
api() {
  local m=$1 p=$2 t=$3 b=${4:-}
  if [ -n "$b" ]; then
    curl -sf -m 10 -X "$m" -H "Authorization: Bearer $t" -H 'Content-Type: application/json' -d "$b" "$SERVER_URL$p"
  else
    curl -sf -m 10 -X "$m" -H "Authorization: Bearer $t" "$SERVER_URL$p"
  fi
}

# jget EXPR: reads JSON on stdin, prints json.load(stdin)EXPR, e.g. jget '["id"]'.
jget() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
