#!/bin/bash
# GPU checks of tvmprims on a lent machine (see make_bundle.sh): TVM assembled from .devrun, then
# the cuda-marked tests, `tvmprims bench --target cuda` and the optional command $EXTRA.
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
S=/tmp/site; mkdir -p $S
t0=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 --version; nvcc --version | tail -1
tar -xJf .devrun/tvmpy.tar.xz -C $S || exit 3
xz -dc .devrun/compiler.xz > $S/tvm/lib/libtvm_compiler.so || exit 3
echo "$(cat .devrun/compiler.sha256)  $S/tvm/lib/libtvm_compiler.so" | sha256sum -c || exit 3
python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target $S .devrun/apache_tvm_ffi-*.whl || exit 3
ln -sfn ../schedules tvmprims/schedules; ln -sfn ../tuning_logs tvmprims/tuning_logs
CUDART=$(python3 -c "import nvidia.cuda_runtime, os; print(os.path.dirname(nvidia.cuda_runtime.__file__) + '/lib')" 2>/dev/null)
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/targets/x86_64-linux/lib:$CUDART:/usr/local/nvidia/lib64:$LD_LIBRARY_PATH
export PATH=/usr/local/cuda/bin:$PATH PYTHONPATH=$S:$PWD
echo "setup $(( $(date +%s) - t0 )) s"
python3 -c "import tvm, tvmprims; print('tvm', tvm.__version__, 'cuda enabled', tvm.runtime.enabled('cuda'), tvm.cuda(0).exist, tvmprims.resolve_target('cuda'))" 2>&1 | tail -3
python3 -c "import tvm, sys; sys.exit(0 if tvm.runtime.enabled('cuda') and tvm.cuda(0).exist else 4)" || { ldd $S/tvm/lib/libtvm_runtime_cuda.so; ls /usr/local/cuda/lib64 | head; exit 4; }
timeout ${TEST_S:-300} python3 -m pytest -m cuda -q -p no:cacheprovider -o addopts="" --continue-on-collection-errors -rf --durations=10 -n ${WORKERS:-8} ${PYTEST_ARGS} 2>&1 | tee $OUT/pytest_cuda.log | tail -40
echo "tests done at $(( $(date +%s) - t0 )) s"
timeout ${BENCH_S:-150} python3 -m tvmprims.cli bench --target cuda --no-none --csv $OUT/bench_cuda.csv --markdown $OUT/bench_cuda.md 2>&1 | tee $OUT/bench_cuda.log | tail -25
echo "bench done at $(( $(date +%s) - t0 )) s"
if [ -n "$EXTRA" ]; then timeout ${EXTRA_S:-100} bash -c "$EXTRA" 2>&1 | tee $OUT/extra.log | tail -30; fi
echo "all done at $(( $(date +%s) - t0 )) s"
