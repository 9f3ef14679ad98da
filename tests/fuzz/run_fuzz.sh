#!/usr/bin/env bash
# Builds the parser fuzzer with clang (libFuzzer + ASan + UBSan) and runs it
# for a bounded time over the checked-in corpus. Any crash or invariant
# failure fails the test; new inputs go to a scratch corpus, not the repo.
#   tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?build dir}/fuzz
secs=${2:-60}
mkdir -p "$out/corpus"
clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src/userspace" "$src/tests/fuzz/http_parser_fuzz.cc" "$src/userspace/protocols/http1/http_parser.cc" \
  "$src/userspace/protocols/http1/http_head.cc" "$src/userspace/protocols/http1/http_body.cc" \
  "$src/userspace/protocols/http1/http_syntax.cc" "$src/userspace/model/http_method.cc" "$src/userspace/model/parse_error.cc" \
  -o "$out/http_parser_fuzz"
"$out/http_parser_fuzz" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 \
  -artifact_prefix="$out/" "$out/corpus" "$src/tests/fuzz/corpus" 2>&1 | tail -n 25
echo "fuzz: ${secs}s without a crash or invariant failure"
