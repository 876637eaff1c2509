#!/bin/bash
# Packs what a lent GPU machine (library entry `device`) needs to run tvmprims' CUDA tests:
# its image has python3 3.12, torch, numpy and nvcc but no TVM, and a TVM wheel (100 MB) is
# larger than a call may carry (64 MiB with the working tree). So: TVM's compiler library,
# xz-compressed with the x86 filter (about 58 MB), the rest of the tvm package (3 MB) and the
# cp312 apache-tvm-ffi wheel, into .devrun/ (ignored by git). Then, from the repository root:
#   mkdir -p /tmp/hold && mv tuning_logs/llvm-* /tmp/hold/   # the working tree must shrink too
#   device run --carry .devrun: bash .devrun/run_checks.sh    (env: TEST_S, BENCH_S, EXTRA)
#   mv /tmp/hold/llvm-* tuning_logs/
set -e
cd "$(dirname "$0")/../.."
SITE=$(.venv/bin/python -c "import tvm, os; print(os.path.dirname(os.path.dirname(tvm.__file__)))")
mkdir -p .devrun
grep -qx "/.devrun/" .git/info/exclude 2>/dev/null || echo "/.devrun/" >> .git/info/exclude
xz --x86 --lzma2=preset=9e,dict=192MiB -T1 -c "$SITE/tvm/lib/libtvm_compiler.so" > .devrun/compiler.xz
sha256sum "$SITE/tvm/lib/libtvm_compiler.so" | cut -c1-64 > .devrun/compiler.sha256
tar -C "$SITE" --exclude=tvm/lib/libtvm_compiler.so --exclude=tvm/3rdparty --exclude=tvm/src \
    --exclude=__pycache__ -cJf .devrun/tvmpy.tar.xz tvm
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 -d .devrun \
    "apache-tvm-ffi==$(.venv/bin/python -c 'import tvm_ffi; print(tvm_ffi.__version__)')"
cp .ci/gpu/run_checks.sh .devrun/
du -ch .devrun/* | tail -1
