#!/usr/bin/env bash
# The CLI never links state/ or daemon/ (docs/ARCHITECTURE.md): fails when the
# modsec-observe binary holds a symbol of either, listing the symbols found. The link
# graph already keeps them out (mso_cli links mso_protocol and mso_util only); this
# catches a later target_link_libraries that would pull them in.
#   tests/cli_links_no_state.sh NM CLI_BINARY
set -euo pipefail
nm="$1"
binary="$2"

# Types and functions of state/ (the collector's live aggregates and answering queries)
# and daemon/ (the server, snapshots, the spool, metrics).
types='Collector|Aggregator|EventRing|TopK|TimeSeries|VhostStats|RuleStats|ScoreHistogram'
types+='|Server|SpoolReplayer|SnapshotReader|MetricsHttp|CredentialPolicy'
functions='answer|answer_query|answer_lines|stats_view|event_json|event_json_line|merge_top'
functions+='|load_state|save_state|render_metrics|read_memory_usage|read_process_stats'
pattern="mso::(($types)\\b|($functions)\\(|[a-z_]*(snapshot|spool|metrics)[a-z_]*\\()"

symbols="$("$nm" -C "$binary")"
if [[ -z "$symbols" ]]; then
  echo "no symbols in $binary (stripped?): cannot check" >&2
  exit 1
fi
if found="$(grep -E "$pattern" <<<"$symbols")"; then
  echo "$binary holds symbols of state/ or daemon/:" >&2
  sed 's/^/  /' <<<"$found" | head -n 40 >&2
  exit 1
fi
echo "no symbol of state/ or daemon/ in $binary"
