#!/usr/bin/env bash
# Builds a fuzzer with clang (libFuzzer + ASan + UBSan) and runs it for a
# bounded time over its checked-in corpus. Any crash or invariant failure
# fails the test; new inputs go to a scratch corpus, not the repo.
#   tests/fuzz/run_fuzz.sh BUILD_DIR [SECONDS] [http_parser|http2|connection] [RUNS]
# RUNS (optional) stops after that many executions instead (bench figures).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?build dir}/fuzz
secs=${2:-60}
target=${3:-http_parser}
u="$src/userspace"
case "$target" in
  http_parser)
    sources=("$src/tests/fuzz/http_parser_fuzz.cc" "$u/protocols/http1/http_parser.cc" "$u/protocols/http1/http_head.cc"
             "$u/protocols/http1/http_body.cc" "$u/protocols/http1/http_syntax.cc")
    libs=()
    corpus="$src/tests/fuzz/corpus" ;;
  http2)
    # nghttp2's HPACK codec is the oracle the decoder is compared with.
    sources=("$src/tests/fuzz/http2_fuzz.cc" "$u/protocols/http2/frame.cc" "$u/protocols/http2/hpack_decoder.cc"
             "$u/protocols/http2/hpack_huffman.cc" "$u/protocols/http2/hpack_huffman_table.cc"
             "$u/protocols/http2/http2_session.cc" "$u/protocols/http2/grpc_stream.cc")
    libs=(-lnghttp2)
    corpus="$src/tests/fuzz/corpus_http2" ;;
  connection)
    # Ordering and pairing: the whole userspace path from ring records to
    # exchanges, every protocol.
    # Whole stage folders by glob (streams/, protocols/*), so a file a stage
    # gains is linked without editing this list.
    sources=("$src/tests/fuzz/connection_fuzz.cc" "$u/capture/record_pipeline.cc" "$u/capture/record_order.cc"
             "$u/capture/capture_file.cc" "$u"/streams/*.cc "$u"/protocols/registry.cc "$u"/protocols/http1/*.cc
             "$u"/protocols/http2/*.cc)
    libs=()
    corpus="$src/tests/fuzz/corpus_connection" ;;
  *) echo "run_fuzz.sh: unknown target $target (http_parser, http2 or connection)" >&2; exit 2 ;;
esac
mkdir -p "$out/corpus_$target"
clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$u" -I"$src/bpf" -I"$src/tests/unit" -I"$src/tests/fuzz" "${sources[@]}" "$u/model/http_method.cc" "$u/model/parse_error.cc" "${libs[@]}" \
  -o "$out/${target}_fuzz"
runs=()
[ -n "${4:-}" ] && runs=(-runs="$4")
"$out/${target}_fuzz" -max_total_time="$secs" "${runs[@]}" -print_final_stats=1 -rss_limit_mb=2048 \
  -artifact_prefix="$out/" "$out/corpus_$target" "$corpus" 2>&1 | tail -n 25
echo "fuzz ($target): ${secs}s without a crash or invariant failure"
