#!/usr/bin/env bash
# bench/media/summary.sh RESULTS.jsonl: the table of bench/media/run.sh
# (medians of the runs; ratios are per run, meowgate / bare of the same run).
set -euo pipefail
R=$1
jq -rs '
def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
def r1: if . == null then "–" else (. * 100 | round / 100 | tostring) end;
def runs(k): [.[] | select(.key == k)];
def per(k; f): runs(k) | map({(.run | tostring): (.data | f)}) | add // {};
def ratios(a; b): [a as $a | b as $b | $a | keys[] | select($b[.] != null) | $a[.] / $b[.]];
def list: map(r1) | join(", ");
. as $all |
($all | map(select(.key == "machine"))[0].data) as $m |
"Machine: \($m.nproc) × \($m.cpu), \($m.go), \($m.date), commit \($m.commit), load \($m.load)\n",
"| # | benchmark | meowgate | bare whatsmeow | ratio (runs) | target |",
"|---|---|---|---|---|---|",
( per("video_mg"; .send_ms) as $mg | per("video_bare"; .send_ms) as $b | per("video_mg"; .after_202_ms) as $a |
  per("video_mg"; .enqueue_ms) as $e |
  if ($mg | length) > 0 then
  "| 1 | \(runs("video_mg")[0].data.bytes / 1048576 | floor) MiB video, POST → message.sent (ms) | \([$mg[]] | med) (enqueue \([$e[]] | med), after the 202 \([$a[]] | med)) | \([$b[]] | med) (UploadReader + SendMessage) | **\(ratios($mg; $b) | med | r1)** (\(ratios($mg; $b) | list)); after the 202 alone \(ratios($a; $b) | med | r1) | ≤ 1.25 |",
  "| 1 | RSS growth during the send (MiB) | **\([per("video_mg"; .rss_growth_kib)[]] | med / 1024 | r1)** (\([per("video_mg"; .rss_growth_kib)[]] | map(. / 1024) | list)); during the enqueue \([runs("video_mg")[] | .data | (.rss_peak_enqueue_kib - .rss_before_kib)] | med / 1024 | r1) | \([per("video_bare"; .rss_growth_kib)[]] | med / 1024 | r1) | | ≤ 8 MiB |"
  else empty end ),
( per("in_mg"; .imgs_per_s) as $mg | per("in_bare"; .imgs_per_s) as $b |
  if ($mg | length) > 0 then
  "| 2 | incoming images downloaded, first send → last file (images/s) | \([$mg[]] | med | r1) | \([$b[]] | med | r1) | **\(ratios($mg; $b) | med | r1)** (\(ratios($mg; $b) | list)) | ≥ 0.8 |"
  else empty end ),
( per("io_image"; .sqlite_bytes_per_msg) as $i | per("io_text"; .sqlite_bytes_per_msg) as $t |
  if ($i | length) > 0 then
  "| 3 | SQLite bytes (main + WAL, strace) per sent image / per sent text (KiB) | \([$i[]] | med / 1024 | r1) / \([$t[]] | med / 1024 | r1) | | **\(ratios($i; $t) | med | r1)** (\(ratios($i; $t) | list)) | ≤ 1.2 |",
  "| 3 | commits per message, image / text | \([per("io_image"; .commits_per_msg)[]] | med | r1) / \([per("io_text"; .commits_per_msg)[]] | med | r1) | | | |",
  "| 3 | /proc/PID/io write_bytes per message, image / text (KiB; media files included) | \([per("io_image"; .proc_write_bytes_per_msg)[]] | med / 1024 | r1) / \([per("io_text"; .proc_write_bytes_per_msg)[]] | med / 1024 | r1) | | | |",
  "| 3 | media directory growth per image (KiB) | \([per("io_image"; .media_dir_growth_per_msg)[]] | med / 1024 | r1) | | | |"
  else empty end )
' "$R"
