#!/usr/bin/env bash
# Rebuild kzoo's bundled presets (zoo/presets/bundled/<name>) with the project's own command line: each model is
# trained by `kzoo train ...`, then `python -m zoo.presets.build` loads the run, measures its metrics with the
# project's evaluation code and writes the preset (config.json, model.weights.h5, metadata.json).
#
#   scripts/build_presets.sh [NAME ...]      default: every preset below
#
# KZOO_SHARED_DATA: the shared data folder (default ../shared/data, relative to the repository root).
# KZOO_PRESET_RUNS: where the training runs go (default runs/presets). A rerun resumes each training from its
# folder (a finished one is not trained again) and rewrites the preset.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${KZOO_SHARED_DATA:-../shared/data}"
RUNS="${KZOO_PRESET_RUNS:-runs/presets}"
BUNDLED="zoo/presets/bundled"
if [ "$#" -gt 0 ]; then PRESETS=("$@"); else PRESETS=(t2i-shapes-64 t2i-flowers-64 charlm-shakespeare rbm-mnist dae-mnist); fi

# preset NAME DESCRIPTION DATA -- TRAINING COMMAND...: train, then evaluate and write the preset.
preset() {
  local name=$1 description=$2 data=$3
  shift 4
  echo "== $name: $*"
  local start=$SECONDS
  "$@"
  echo "== $name: trained in $((SECONDS - start)) s"
  python -m zoo.presets.build "$name" --run "$RUNS/$name" --out "$BUNDLED/$name" \
    --description "$description" --data "$data" --command "$*"
  echo "== $name: done in $((SECONDS - start)) s"
}

for name in "${PRESETS[@]}"; do
  case "$name" in
    t2i-shapes-64)
      preset "$name" "Text-to-image GAN-INT-CLS (char-CNN text encoder + DCGAN generator), 64x64, built-in shapes" \
        "shapes (built in)" -- \
        kzoo train t2i --dataset shapes --recipe charcnn-ms --image-size 64 --ngf 32 --ndf 32 --batch-size 64 \
        --epochs 40 --seed 0 --no-evaluate --out "$RUNS/$name" ;;
    t2i-flowers-64)
      # Reed et al.'s class split (82 classes, 7,034 images); captions from each image's class name and measured
      # petal/centre colours. 60 epochs of 100 GAN steps of 32 images: about 33 minutes on an idle 2-core machine
      # (3.1 steps/s), after 1,500 DS-SJE steps (2-4 minutes).
      preset "$name" "Text-to-image GAN-INT-CLS (char-CNN text encoder + DCGAN generator), 64x64, Oxford-102 flowers" \
        "$DATA/oxford_flowers102" -- \
        kzoo train t2i --dataset flowers102 --data-dir "$DATA/oxford_flowers102" --image-size 64 --ngf 32 --ndf 32 \
        --batch-size 32 --epochs 60 --seed 0 --no-evaluate --out "$RUNS/$name" ;;
    charlm-shakespeare)
      preset "$name" "Character language model, 2 x LSTM(256), tiny-shakespeare" \
        "$DATA/tinyshakespeare/input.txt" -- \
        kzoo train charlm --text "$DATA/tinyshakespeare/input.txt" --units 256 --layers 2 --epochs 10 --seed 0 \
        --out "$RUNS/$name" ;;
    rbm-mnist)
      # CD-1; the build step estimates log Z by AIS (14,500 betas, 100 runs). CD-1's test log-likelihood peaks
      # early and then falls while the pseudo-likelihood keeps rising (Fischer & Igel 2010). Measured with 3,000
      # AIS betas: 2 epochs at learning rate 0.05 gave -105.7 nats, 3 at 0.02 -107.0, 2 at 0.1 -119.7, 5 at 0.1
      # -176.8, 15 at 0.02 -189.5, and 15 at 0.1 -197.2 (with 14,500 betas).
      preset "$name" "Bernoulli RBM, 784-500, CD-1 on binarised MNIST" \
        "$DATA/mnist" -- \
        kzoo train rbm --dataset mnist --data-dir "$DATA/mnist" --hidden 500 --epochs 2 --learning-rate 0.05 \
        --verbose 2 --seed 0 --out "$RUNS/$name" ;;
    dae-mnist)
      preset "$name" "Denoising autoencoder, dense 784-256-64-256-784, masking noise 0.3, MNIST" \
        "$DATA/mnist" -- \
        kzoo train autoencoder --kind denoising --dataset mnist --data-dir "$DATA/mnist" --hidden 256 --code-dim 64 \
        --corruption masking --level 0.3 --epochs 20 --verbose 2 --seed 0 --out "$RUNS/$name" ;;
    *)
      echo "unknown preset $name; expected t2i-shapes-64, t2i-flowers-64, charlm-shakespeare, rbm-mnist or dae-mnist" >&2
      exit 2 ;;
  esac
done
