#!/usr/bin/env bash
# mmcv-full 1.7.1 as OpenMMLab's prebuilt wheel for this env's torch 1.12 / CUDA 11.3 (mim finds the index)
set -euo pipefail
mim install mmcv-full==1.7.1
