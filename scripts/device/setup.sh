# Sourced at the start of every command on a lent GPU machine (from the repository root).
# Installs the carried wheels and the suite itself (editable, no index, no dependencies:
# the machine's image already has torch, numpy, pandas, pillow, tqdm and pytest-benchmark).
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
python3 -c "import bench.problems" 2>/dev/null ||
  python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 1
python3 -c "import torch; print('torch', torch.__version__, 'on',
  torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
