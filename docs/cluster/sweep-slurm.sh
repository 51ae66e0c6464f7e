#!/usr/bin/env bash
# Run a flashcrowd sweep as a Slurm job array: each task runs one slice of the points
# (flashcrowd reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT),
# all writing to one shared folder; the last task to finish writes sweep.csv and sweep.json.
# With one folder per task instead, join them afterwards:
#   flashcrowd sweep SWEEP.ron --out merged --merge out-0 --merge out-1 ...
#
#   sbatch --array=0-15 docs/cluster/sweep-slurm.sh models/sweeps/web_capacity.ron /shared/out
#
# The headless build is enough (no GUI libraries on compute nodes):
#   cargo build --release --no-default-features
#SBATCH --job-name=flashcrowd-sweep
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --time=02:00:00
set -euo pipefail
sweep=${1:?usage: sbatch --array=0-N sweep-slurm.sh SWEEP.ron OUT_DIR}
out=${2:?usage: sbatch --array=0-N sweep-slurm.sh SWEEP.ron OUT_DIR}
# A re-submitted task skips the points it already wrote (the sweep resumes).
exec "${FLASHCROWD:-flashcrowd}" sweep "$sweep" --out "$out"
