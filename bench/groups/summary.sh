#!/usr/bin/env bash
# bench/groups/summary.sh RESULTS.jsonl: the table of bench/groups/run.sh
# (medians of the runs; ratios are per run, meowgate / bare of the same run).
set -euo pipefail
R=$1
jq -rs '
def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
def r2: if . == null then "–" else (. * 100 | round / 100 | tostring) end;
def mib: if . == null then null else . / 1024 end;
def per(k; f): [.[] | select(.key == k)] | map({(.run | tostring): (.data | f)}) | add // {};
def ratios(a; b): [a as $a | b as $b | $a | keys[] | select($b[.] != null) | $a[.] / $b[.]];
def list: map(r2) | join(", ");
. as $all |
($all | map(select(.key == "machine"))[0].data) as $m |
"Machine: \($m.nproc) × \($m.cpu), \($m.go), \($m.date), commit \($m.commit), load \($m.load)\n",
"| # | benchmark | meowgate | bare whatsmeow | ratio (runs) | target |",
"|---|---|---|---|---|---|",
( per("send_mg"; .msgs_per_s) as $mg | per("send_bare"; .msgs_per_s) as $b |
  per("send_mg"; .drain_msgs_per_s) as $dm | per("send_bare"; .drain_msgs_per_s) as $db |
  if ($mg | length) > 0 then
  "| 1 | \([$all[] | select(.key == "send_mg")][0].data.n) texts to a group of 50 × 2 devices, first POST → last sent (msgs/s) | \([$mg[]] | med | r2) (first sent after \([per("send_mg"; .first_sent_ms)[]] | med) ms) | \([$b[]] | med | r2) (first ack after \([per("send_bare"; .first_sent_ms)[]] | med) ms) | **\(ratios($mg; $b) | med | r2)** (\(ratios($mg; $b) | list)) | ≥ 0.8 |",
  "| 1 | … after the first message (msgs/s) | \([$dm[]] | med | r2) | \([$db[]] | med | r2) | \(ratios($dm; $db) | med | r2) (\(ratios($dm; $db) | list)) | |",
  "| 1 | CPU ms per message: sender process / wasim | \([per("send_mg"; .mg_cpu_ms_per_msg)[]] | med | r2) / \([per("send_mg"; .wasim_cpu_ms_per_msg)[]] | med | r2) | \([per("send_bare"; .cpu_ms_per_msg)[]] | med | r2) / \([per("send_bare"; .wasim_cpu_ms_per_msg)[]] | med | r2) | | |"
  else empty end ),
( ([$all[] | select(.key | startswith("rss_mg_")) | .key | ltrimstr("rss_mg_")] | unique | sort_by(tonumber) | reverse[]) as $g |
  per("rss_mg_" + $g; .rss_kib_median) as $mg | per("rss_base_" + $g; .rss_kib_median) as $b |
  "| 2 | RSS, 100 connected, \($g) groups each (MiB) | \([$mg[]] | med | mib | r2) | \([$b[]] | med | mib | r2) (baseline) | **\(ratios($mg; $b) | med | r2)** (\(ratios($mg; $b) | list)) | ≤ 1.3 |" )
' "$R"
